/**
 * The three.js side of the viewer: merged per-colour meshes, orbit/pan/zoom, fit, GPU picking and a
 * highlight that costs no buffer update (a uniform compared with each vertex's element index).
 *
 * Frames are drawn on demand (a camera change, a resize, a selection), never in a busy loop, so an idle
 * model costs nothing.
 */
import * as THREE from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import type { Batch, ModelGeometry } from "./protocol";

const HIGHLIGHT = new THREE.Color(0.1, 0.55, 1.0); // a blue few models use for their own parts
const LARGE_MODEL_VERTICES = 500_000;

/** Statistics a benchmark or a test reads from window.__twinbridgeViewer. */
export interface FrameStats {
  frames: number;
  /** performance.now() of the first frame that drew the model. */
  firstModelFrameAt: number | null;
  lastFrameMilliseconds: number;
}

export class ModelScene {
  readonly canvas: HTMLCanvasElement;
  readonly stats: FrameStats = { frames: 0, firstModelFrameAt: null, lastFrameMilliseconds: 0 };
  private renderer: THREE.WebGLRenderer;
  private scene = new THREE.Scene();
  private camera = new THREE.PerspectiveCamera(45, 1, 0.1, 1000);
  private controls: OrbitControls;
  private model = new THREE.Group();
  private selected = { value: -1 };
  private pickTarget = new THREE.WebGLRenderTarget(1, 1);
  private pickMaterial: THREE.ShaderMaterial;
  private pending = false;
  private resizeObserver: ResizeObserver;
  private hasModel = false;
  private fullPixelRatio = Math.min(window.devicePixelRatio, 2);
  /** A large model moves at a lower resolution, and is drawn sharp again once the camera stops. */
  private large = false;
  private settle: number | undefined;

  constructor(private container: HTMLElement) {
    // No multisampling: on a software or weak GPU it multiplies the cost of every frame of a large model.
    this.renderer = new THREE.WebGLRenderer({ antialias: false });
    this.renderer.setPixelRatio(this.fullPixelRatio);
    this.renderer.setClearColor(0xf4f5f7);
    this.canvas = this.renderer.domElement;
    this.canvas.dataset.testid = "viewer-canvas";
    container.append(this.canvas);
    this.scene.add(this.camera, this.model);
    this.scene.add(new THREE.AmbientLight(0xffffff, 1.2));
    const headlight = new THREE.DirectionalLight(0xffffff, 1.8);
    headlight.position.set(0.5, 1, 0.8);
    this.camera.add(headlight);
    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.screenSpacePanning = true;
    this.controls.addEventListener("change", () => this.requestRender());
    this.controls.addEventListener("start", () => this.setMoving(true));
    this.controls.addEventListener("end", () => this.setMoving(false));
    this.pickMaterial = new THREE.ShaderMaterial({
      side: THREE.DoubleSide,
      vertexShader: `
        attribute float elementIndex;
        varying float vElement;
        void main() {
          vElement = elementIndex + 1.0;
          gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
        }`,
      fragmentShader: `
        varying float vElement;
        void main() {
          float id = floor(vElement + 0.5);
          gl_FragColor = vec4(mod(id, 256.0), mod(floor(id / 256.0), 256.0), floor(id / 65536.0), 255.0) / 255.0;
        }`,
    });
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.resize();
  }

  private setMoving(moving: boolean): void {
    clearTimeout(this.settle);
    if (moving) {
      if (!this.large) return;
      this.renderer.setPixelRatio(this.fullPixelRatio / 2);
      this.setSides(THREE.FrontSide);
      return;
    }
    this.settle = window.setTimeout(() => {
      if (this.renderer.getPixelRatio() !== this.fullPixelRatio) {
        this.renderer.setPixelRatio(this.fullPixelRatio);
        this.setSides(THREE.DoubleSide);
        this.requestRender();
      }
    }, 150);
  }

  /** Back faces are skipped while a large model moves (solids are closed; an open shell seen from behind
   * shows again when the camera stops). */
  private setSides(side: THREE.Side): void {
    for (const child of this.model.children) {
      const material = (child as THREE.Mesh).material as THREE.Material;
      if (material.side !== side) {
        material.side = side;
        material.needsUpdate = true;
      }
    }
  }

  private resize(): void {
    const width = Math.max(1, this.container.clientWidth);
    const height = Math.max(1, this.container.clientHeight);
    this.renderer.setSize(width, height);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.requestRender();
  }

  private material(color: Batch["color"], flat: boolean): THREE.Material {
    const [r, g, b, a] = color;
    const material = new THREE.MeshLambertMaterial({
      color: new THREE.Color(r, g, b),
      opacity: a,
      transparent: a < 1,
      depthWrite: a >= 1,
      side: THREE.DoubleSide,
      flatShading: flat,
    });
    material.onBeforeCompile = (shader) => {
      shader.uniforms.selectedElement = this.selected;
      shader.uniforms.highlight = { value: HIGHLIGHT };
      shader.vertexShader = shader.vertexShader
        .replace("#include <common>", "#include <common>\nattribute float elementIndex;\nvarying float vElement;")
        .replace("#include <begin_vertex>", "#include <begin_vertex>\nvElement = elementIndex;");
      shader.fragmentShader = shader.fragmentShader
        .replace("#include <common>", "#include <common>\nuniform float selectedElement;\nuniform vec3 highlight;\nvarying float vElement;")
        .replace(
          "#include <color_fragment>",
          "#include <color_fragment>\nif (abs(vElement - selectedElement) < 0.5) diffuseColor.rgb = highlight;",
        );
    };
    return material;
  }

  setModel(geometry: ModelGeometry): void {
    this.clear();
    for (const batch of geometry.batches) {
      const buffer = new THREE.BufferGeometry();
      buffer.setAttribute("position", new THREE.BufferAttribute(batch.positions, 3));
      if (batch.normals) buffer.setAttribute("normal", new THREE.BufferAttribute(batch.normals, 3));
      buffer.setAttribute("elementIndex", new THREE.BufferAttribute(batch.elementIndices, 1));
      buffer.setIndex(new THREE.BufferAttribute(batch.indices, 1));
      buffer.computeBoundingBox();
      buffer.computeBoundingSphere();
      const mesh = new THREE.Mesh(buffer, this.material(batch.color, batch.flat));
      mesh.renderOrder = batch.color[3] < 1 ? 1 : 0; // transparent glass after the opaque walls
      mesh.matrixAutoUpdate = false;
      this.model.add(mesh);
    }
    this.hasModel = geometry.batches.length > 0;
    const vertices = geometry.batches.reduce((sum, batch) => sum + batch.positions.length / 3, 0);
    this.large = vertices > LARGE_MODEL_VERTICES;
    this.fit();
  }

  private clear(): void {
    for (const child of [...this.model.children]) {
      const mesh = child as THREE.Mesh;
      mesh.geometry.dispose();
      (mesh.material as THREE.Material).dispose();
      this.model.remove(mesh);
    }
  }

  /** Frames the whole model, seen from above at an angle. */
  fit(): void {
    const box = new THREE.Box3().setFromObject(this.model);
    if (box.isEmpty()) box.set(new THREE.Vector3(-1, -1, -1), new THREE.Vector3(1, 1, 1));
    const sphere = box.getBoundingSphere(new THREE.Sphere());
    const radius = Math.max(sphere.radius, 0.01);
    const distance = (radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2))) * 1.05;
    const direction = new THREE.Vector3(1, 0.9, 1.2).normalize();
    this.camera.position.copy(sphere.center).addScaledVector(direction, distance);
    this.camera.near = Math.max(distance / 1000, radius / 10000);
    this.camera.far = distance + radius * 4;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(sphere.center);
    this.controls.maxDistance = distance * 20;
    this.controls.update();
    this.requestRender();
  }

  /** Highlights element `index` (of ModelGeometry.expressIds), or none for -1. */
  select(index: number): void {
    this.selected.value = index;
    this.requestRender();
  }

  /** The element index under a point of the canvas (client coordinates), or -1: one 1x1 pixel render. */
  pick(clientX: number, clientY: number): number {
    const bounds = this.canvas.getBoundingClientRect();
    const ratio = this.renderer.getPixelRatio();
    const width = this.canvas.width;
    const height = this.canvas.height;
    const x = Math.floor((clientX - bounds.left) * ratio);
    const y = Math.floor((clientY - bounds.top) * ratio);
    if (x < 0 || y < 0 || x >= width || y >= height) return -1;
    this.camera.setViewOffset(width, height, x, y, 1, 1);
    const background = this.scene.background;
    this.scene.overrideMaterial = this.pickMaterial;
    const clear = this.renderer.getClearColor(new THREE.Color());
    this.renderer.setClearColor(0x000000, 1);
    this.renderer.setRenderTarget(this.pickTarget);
    this.renderer.render(this.scene, this.camera);
    this.renderer.setRenderTarget(null);
    this.renderer.setClearColor(clear, 1);
    this.scene.overrideMaterial = null;
    this.scene.background = background;
    this.camera.clearViewOffset();
    const pixel = new Uint8Array(4);
    this.renderer.readRenderTargetPixels(this.pickTarget, 0, 0, 1, 1, pixel);
    return pixel[0] + pixel[1] * 256 + pixel[2] * 65536 - 1;
  }

  requestRender(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  private render(): void {
    const started = performance.now();
    this.renderer.render(this.scene, this.camera);
    this.stats.frames++;
    this.stats.lastFrameMilliseconds = performance.now() - started;
    if (this.hasModel && this.stats.firstModelFrameAt === null) this.stats.firstModelFrameAt = performance.now();
  }

  /** Turns the camera once around the model, one step per animation frame: frames per second. */
  async orbit(frames: number): Promise<{ frames: number; seconds: number; fps: number }> {
    const target = this.controls.target;
    const offset = this.camera.position.clone().sub(target);
    const spherical = new THREE.Spherical().setFromVector3(offset);
    const nextFrame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));
    this.setMoving(true);
    await nextFrame();
    const started = performance.now();
    for (let frame = 1; frame <= frames; frame++) {
      spherical.theta += (2 * Math.PI) / frames;
      this.camera.position.copy(target).add(new THREE.Vector3().setFromSpherical(spherical));
      this.camera.lookAt(target);
      this.render();
      await nextFrame();
    }
    const seconds = (performance.now() - started) / 1000;
    this.setMoving(false);
    this.controls.update();
    return { frames, seconds, fps: frames / seconds };
  }

  dispose(): void {
    clearTimeout(this.settle);
    this.resizeObserver.disconnect();
    this.controls.dispose();
    this.clear();
    this.pickTarget.dispose();
    this.pickMaterial.dispose();
    this.renderer.dispose();
    this.canvas.remove();
  }
}
