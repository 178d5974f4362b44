/**
 * Files in an iTwin's storage through the Storage API's upload flow: create the file (or start a content
 * update of an existing one), PUT its bytes to the upload URL, then complete it. The PUT goes through
 * XMLHttpRequest, the one browser API that reports upload progress; the upload URL authorizes itself.
 */
import { json, url } from "../../api";

export interface StorageFile {
  id: string;
  displayName: string;
  path?: string;
  size?: number;
  lastModifiedDateTime?: string;
  lastModifiedByDisplayName?: string;
}

interface UploadLinks {
  _links: { uploadUrl: { href: string }; completeUrl: { href: string } };
}

export type ProgressListener = (sent: number, total: number) => void;

/** The id of the iTwin's root folder (made on first use by the Storage API). */
export async function rootFolderId(itwinId: string): Promise<string> {
  const body = await json(`/storage/?iTwinId=${encodeURIComponent(itwinId)}&$top=1`);
  const href: string = body._links.folder.href;
  return href.split("/").pop()!;
}

function put(uploadUrl: string, file: Blob, onProgress: ProgressListener): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url(uploadUrl)); // the server's link, at this page's origin when it names another loopback host
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("x-ms-blob-type", "BlockBlob");
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let message = `The upload failed: the server answered ${xhr.status}.`;
      try {
        message = JSON.parse(xhr.responseText).error.message ?? message;
      } catch {
        // not the contract's envelope: keep the status
      }
      reject(new Error(message));
    };
    xhr.onerror = () => reject(new Error("The upload failed: the connection to the server was lost."));
    xhr.send(file);
  });
}

async function sendAndComplete(links: UploadLinks, file: File, onProgress: ProgressListener): Promise<StorageFile> {
  await put(links._links.uploadUrl.href, file, onProgress);
  return (await json(links._links.completeUrl.href, { method: "POST" })).file;
}

/** Uploads a new file into the folder. */
export async function uploadFile(folderId: string, file: File, onProgress: ProgressListener): Promise<StorageFile> {
  const links = await json<UploadLinks>(`/storage/folders/${encodeURIComponent(folderId)}/files`, {
    method: "POST",
    body: { displayName: file.name },
  });
  return sendAndComplete(links, file, onProgress);
}

/** Replaces the content of an existing file (the same storage file id); it keeps its name. */
export async function updateFileContent(fileId: string, file: File, onProgress: ProgressListener): Promise<StorageFile> {
  const links = await json<UploadLinks>(`/storage/files/${encodeURIComponent(fileId)}/updatecontent`, {
    method: "POST",
    body: {},
  });
  return sendAndComplete(links, file, onProgress);
}

export function formatSize(bytes: number | undefined): string {
  if (bytes === undefined || bytes === null) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

/** Uploads each file in turn, reporting "name: 40%" through `progress`; the uploaded files, in order. */
export async function uploadAll(
  folderId: string,
  files: File[],
  progress: { set(text: string, fraction?: number): void },
): Promise<StorageFile[]> {
  const uploaded: StorageFile[] = [];
  for (const [index, file] of files.entries()) {
    const prefix = files.length > 1 ? `(${index + 1}/${files.length}) ` : "";
    const stored = await uploadFile(folderId, file, (sent, total) =>
      progress.set(`${prefix}Uploading ${file.name}: ${Math.round((100 * sent) / (total || 1))}% of ${formatSize(total)}`, total ? sent / total : undefined),
    );
    uploaded.push(stored);
  }
  progress.set(`Uploaded ${uploaded.map((file) => file.displayName).join(", ")}.`, 1);
  return uploaded;
}
