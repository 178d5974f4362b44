"use strict";
// @azure/storage-blob's BlockBlobClient, as Bentley's storage client (@itwin/object-storage-azure) drives it,
// against a twinbridge upload or download URL. Run by tests/integration/test_imodel_blob_transfers.py:
//   node azure_blob_client.js upload-in-blocks <url> <file>   Put Block x n, then Put Block List
//   node azure_blob_client.js upload <url> <file>             one Put Blob
//   node azure_blob_client.js download <url> <file>           whole file, then bytes 100-1099
// Prints one JSON line of what the client saw. The package comes from the iModel engine's npm packages.
const path = require("node:path");
const { BlockBlobClient } = require(
  path.resolve(__dirname, "../../src/twinbridge/engines/imodel/node/node_modules/@azure/storage-blob"),
);

async function main() {
  const [mode, url, file] = process.argv.slice(2);
  const client = new BlockBlobClient(url);
  if (mode === "upload-in-blocks" || mode === "upload") {
    // Files over 256 MiB go in blocks; small limits make a small file go the same way.
    const options = mode === "upload" ? {} : { maxSingleShotSize: 64 * 1024, blockSize: 256 * 1024, concurrency: 5 };
    const uploaded = await client.uploadFile(file, options);
    return { status: uploaded._response.status };
  }
  const whole = await client.downloadToFile(file);
  const part = await client.download(100, 1000);
  const chunks = [];
  for await (const chunk of part.readableStreamBody) chunks.push(chunk);
  return {
    status: whole._response.status,
    contentLength: whole.contentLength,
    etag: whole.etag,
    rangeStatus: part._response.status,
    contentRange: part.contentRange,
    rangeHex: Buffer.concat(chunks).toString("hex"),
  };
}

main().then(
  (seen) => console.log(JSON.stringify(seen)),
  (error) => {
    console.error(`${error.statusCode ?? ""} ${error.message}`);
    process.exit(1);
  },
);
