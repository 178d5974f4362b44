/** #/view/ifc?file=<storage file id or URL>: an IFC file in 3D. */
import { json } from "../../api";
import { onLeave, type Parameters } from "../../main";
import { h } from "../../ui";
import { IfcViewer } from "./viewer";

function chooser(root: HTMLElement): void {
  const input = h("input", { name: "file", placeholder: "a storage file id, or an https:// URL", size: 60, "data-testid": "viewer-file" });
  const form = h("form", { class: "inline" }, input, h("button", { type: "submit" }, "View"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value.trim()) location.hash = `#/view/ifc?file=${encodeURIComponent(input.value.trim())}`;
  });
  root.append(
    h("p", {}, "Which IFC file? An export run's output, or any file uploaded to iTwin storage, by its id."),
    form,
  );
}

export async function renderIfcViewer(root: HTMLElement, _parameters: Parameters, query: URLSearchParams): Promise<void> {
  const file = query.get("file")?.trim();
  const title = h("h1", {}, "IFC viewer");
  root.append(title);
  if (!file) return chooser(root);
  const isUrl = /^https?:\/\//.test(file);
  const viewer = new IfcViewer();
  onLeave(() => viewer.dispose());
  root.append(viewer.element);
  if (!isUrl) {
    // The name is a courtesy: the download below reports a missing file in words.
    json(`/storage/files/${encodeURIComponent(file)}`)
      .then((body) => (title.textContent = `IFC viewer · ${body?.file?.displayName ?? file}`))
      .catch(() => undefined);
  }
  void viewer.loadUrl(isUrl ? file : `/storage/files/${encodeURIComponent(file)}/download`);
}
