/**
 * A certificate authority made for one test (openssl), and a server
 * certificate it signs for 127.0.0.1 and localhost: the CA is a CA and the
 * server's is a leaf (rustls, which Nx's native HTTP client uses, refuses a
 * self-signed certificate that is both). Keys are short-lived files in a
 * private folder the caller removes.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execaSync } from "execa";

export interface TestCa {
  readonly dir: string;
  /** The CA's certificate: what a client trusts (NODE_EXTRA_CA_CERTS). */
  readonly caFile: string;
  /** The server's certificate, signed by the CA, and its key. */
  readonly certFile: string;
  readonly keyFile: string;
  dispose(): void;
}

export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "obi-test-ca-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execaSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl("req", "-x509", ...ec, "-days", "1", "-subj", "/CN=obi-test-ca", "-keyout", at("ca-key.pem"), "-out", at("ca.pem"),
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  openssl("req", ...ec, "-subj", "/CN=127.0.0.1", "-keyout", at("server-key.pem"), "-out", at("server.csr"));
  writeFileSync(
    at("server.ext"),
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  openssl("x509", "-req", "-days", "1", "-in", at("server.csr"), "-CA", at("ca.pem"), "-CAkey", at("ca-key.pem"), "-CAcreateserial",
    "-extfile", at("server.ext"), "-out", at("server.pem"));
  // The CA's key is needed no longer.
  rmSync(at("ca-key.pem"));
  return { dir, caFile: at("ca.pem"), certFile: at("server.pem"), keyFile: at("server-key.pem"), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
