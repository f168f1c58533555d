/**
 * Certificates for TLS tests, made with `openssl` in a temp dir: a throwaway
 * CA and a server certificate it signs, for `localhost`, 127.0.0.1 and ::1.
 */

import { type Availability, run, which } from "./servers.ts";

/** Where `openssl` is, or why there is none. */
export function locateOpenssl(): Availability<string> {
  const bin = which("openssl", ["/usr/bin"]);
  return bin
    ? { ok: true, value: bin }
    : { ok: false, reason: "no openssl on PATH (apt-get install openssl)" };
}

/** Options for {@linkcode makeCerts}. */
export interface MakeCertsOptions {
  /** Days the server certificate is valid; default 30. */
  days?: number;
  /** Days the CA is valid; default 3650. */
  caDays?: number;
}

/** A CA and a server certificate signed by it, all PEM. */
export interface TestCerts {
  /** The CA certificate, to trust. */
  ca: string;
  /** The server certificate followed by the CA (the chain a server sends). */
  chain: string;
  /** The server certificate alone. */
  cert: string;
  key: string;
  /** `notAfter` of the server certificate and of the CA, epoch seconds, as openssl reads them. */
  certNotAfter: number;
  caNotAfter: number;
}

/** Make a CA and a server certificate in a temp dir (removed before returning). */
export async function makeCerts(
  openssl: string,
  options: MakeCertsOptions = {},
): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-tls-" });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await run(openssl, [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.pem`,
      "-days",
      String(options.caDays ?? 3650),
      "-subj",
      "/CN=astron-watch test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await run(openssl, [
      "req",
      ...ec,
      "-keyout",
      `${dir}/server.key`,
      "-out",
      `${dir}/server.csr`,
      "-subj",
      "/CN=localhost",
    ]);
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        "",
      ].join("\n"),
    );
    await run(openssl, [
      "x509",
      "-req",
      "-in",
      `${dir}/server.csr`,
      "-CA",
      `${dir}/ca.pem`,
      "-CAkey",
      `${dir}/ca.key`,
      "-CAcreateserial",
      "-out",
      `${dir}/server.pem`,
      "-days",
      String(options.days ?? 30),
      "-extfile",
      `${dir}/ext.cnf`,
    ]);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    const cert = await Deno.readTextFile(`${dir}/server.pem`);
    return {
      ca,
      cert,
      chain: cert + ca,
      key: await Deno.readTextFile(`${dir}/server.key`),
      certNotAfter: await notAfter(openssl, `${dir}/server.pem`),
      caNotAfter: await notAfter(openssl, `${dir}/ca.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function notAfter(openssl: string, file: string): Promise<number> {
  const out = await run(openssl, ["x509", "-in", file, "-noout", "-enddate"]);
  return Date.parse(out.trim().replace(/^notAfter=/, "")) / 1000;
}
