"use strict";
// The "system browser" of the interactive sign-in test. @itwin/node-cli-authorization opens the
// authorize URL with the `open` package; on Linux without a desktop its bundled xdg-open runs
// `$BROWSER "<url>"`, and the test sets BROWSER="<node> <this file>". Like a user who has already consented,
// this GETs the URL and follows the redirects to the client's loopback address. Every hop is appended to
// $FAKE_BROWSER_LOG (one JSON line per visit), because `open` discards this process's output and a sign-in
// that goes wrong otherwise just never finishes.

const fs = require("node:fs");

async function visit(startUrl) {
  const hops = [];
  let url = startUrl;
  for (let hop = 0; hop < 10; hop += 1) {
    const response = await fetch(url, { redirect: "manual" });
    const location = response.headers.get("location");
    const record = { url, status: response.status };
    hops.push(record);
    if (response.status >= 300 && response.status < 400 && location) {
      record.location = location;
      url = new URL(location, url).href;
      continue;
    }
    record.body = (await response.text()).slice(0, 2000);
    break;
  }
  return hops;
}

async function main() {
  const url = process.argv[2];
  let entry;
  try {
    entry = { opened: url, hops: await visit(url) };
  } catch (error) {
    entry = { opened: url, failure: String(error && error.stack ? error.stack : error) };
  }
  if (process.env.FAKE_BROWSER_LOG) {
    try {
      fs.appendFileSync(process.env.FAKE_BROWSER_LOG, `${JSON.stringify(entry)}\n`);
    } catch {
      // The test has finished and removed its folder: nobody reads this visit any more.
    }
  }
}

main();
