/** Moving files: an upload with its progress (to a signed URL of the server), and a version's download. */
import { ApiError, json, url } from "../../api";

/** PUTs `file` to a signed upload URL (no token: the URL authorizes), reporting the fraction sent. fetch()
 * cannot tell how much of a request body went out, XMLHttpRequest can. */
export function putFile(href: string, file: Blob, onProgress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url(href));
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.setRequestHeader("x-ms-blob-type", "BlockBlob"); // what Azure-style upload URLs expect
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) return resolve();
      let code = request.statusText || "Error";
      let message = `The upload failed: the server answered ${request.status}.`;
      try {
        const body = JSON.parse(request.responseText);
        code = body?.error?.code ?? code;
        message = body?.error?.message ?? message;
      } catch {
        // not JSON: keep the status
      }
      reject(new ApiError(request.status, code, message));
    };
    request.onerror = () => reject(new Error("The upload failed: the connection to the server broke."));
    request.send(file);
  });
}

interface Checkpoint {
  changesetIndex: number;
  dbName: string;
  size: number;
  _links: { download: { href: string } };
}

/** Downloads the snapshot file of a version: asks its checkpoint (`path`, e.g.
 * /imodels/{id}/changesets/3/checkpoint) for a signed URL and lets the browser save it under its name. */
export async function downloadCheckpoint(path: string): Promise<Checkpoint> {
  const checkpoint: Checkpoint = (await json(path)).checkpoint;
  const anchor = document.createElement("a");
  anchor.href = url(checkpoint._links.download.href);
  anchor.download = checkpoint.dbName;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  return checkpoint;
}

export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}
