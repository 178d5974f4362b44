"use strict";
// @itwin/node-cli-authorization 1.0.1 loads keytar at start but skips its token store on Linux
// (TokenStore.load/save return early when process.platform === "linux"). Any call reaching here means
// that assumption broke, so it fails loudly instead of pretending to store a secret.
function unavailable(name) {
  return async () => {
    throw new Error(
      `keytar.${name}: no OS keychain in the client tests (a stand-in package, see tests/clients/README.md)`,
    );
  };
}

module.exports = {
  getPassword: unavailable("getPassword"),
  setPassword: unavailable("setPassword"),
  deletePassword: unavailable("deletePassword"),
  findPassword: unavailable("findPassword"),
  findCredentials: unavailable("findCredentials"),
};
