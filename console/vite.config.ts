import { defineConfig } from "vite";

// Served by `twinbridge serve` at /console (src/twinbridge/console); the build is not committed.
export default defineConfig({
  base: "/console/",
  build: {
    outDir: "../src/twinbridge/console/dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  // The viewer's IFC worker (web-ifc) is an ES module worker; its .wasm is emitted into assets/.
  worker: { format: "es" },
});
