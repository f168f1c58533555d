import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { createHttpProbe } from "../src/probe/http.ts";
import { PROBES } from "../src/probe/registry.ts";
import { makeCerts, type TestCerts } from "./support/tls.ts";
import { locateOpenssl } from "./support/tls.ts";
import { serverTest } from "./support/servers.ts";

function probeConfig(probe: Record<string, unknown>): ProbeConfig {
  const r = parseConfigText(JSON.stringify({ probes: [{ name: "p", ...probe }] }), {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.probes[0];
}

const never = new AbortController().signal;

async function withTlsServer(
  certs: TestCerts,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: certs.chain, key: certs.key, onListen() {} },
    () => new Response("secure and healthy"),
  );
  try {
    await fn(server.addr.port);
  } finally {
    await server.shutdown();
  }
}

const openssl = locateOpenssl();

serverTest(
  "https probe times every phase and reads the certificate's days left",
  openssl,
  async (bin, t) => {
    const certs = await makeCerts(bin, { days: 30 });
    const probe = createHttpProbe({ caCerts: [certs.ca] });
    await withTlsServer(certs, async (port) => {
      for (const host of ["localhost", "127.0.0.1"]) {
        await t.step(`phases are present and ordered (${host})`, async () => {
          const r = await probe(
            probeConfig({
              type: "http",
              url: `https://${host}:${port}/`,
              expect: { body_contains: "healthy" },
            }),
            { signal: never },
          );
          assert.equal(r.reason, undefined);
          assert.equal(r.ok, true);
          assert.equal(r.code, "ok");
          const { connect, tls, first_byte, total } = r.phases;
          assert.ok(connect !== undefined && tls !== undefined && first_byte !== undefined);
          assert.ok(
            connect > 0 && connect <= tls && tls <= first_byte && first_byte <= total,
            JSON.stringify(r.phases),
          );
          assert.equal(r.phases.dns, undefined, "localhost and IPs are not looked up");
          assert.equal(r.cert_expiry, certs.certNotAfter);
        });
      }
      const cases = [
        { name: "cert_days_left 10 passes on a 30-day certificate", days: 10 },
        { name: "cert_days_left 29 passes", days: 29 },
        {
          name: "cert_days_left 31 fails",
          days: 31,
          reason:
            /^certificate expires in 30\.0 days \(\d{4}-\d\d-\d\d\), under cert_days_left 31$/,
        },
        { name: "cert_days_left 60 fails", days: 60, reason: /under cert_days_left 60$/ },
      ];
      for (const c of cases) {
        await t.step(c.name, async () => {
          const r = await probe(
            probeConfig({
              type: "http",
              url: `https://localhost:${port}/`,
              expect: { cert_days_left: c.days },
            }),
            { signal: never },
          );
          if (c.reason) {
            assert.equal(r.ok, false);
            assert.equal(r.code, "cert_expiry");
            assert.match(r.reason!, c.reason);
          } else {
            assert.equal(r.ok, true, r.reason ?? "");
          }
        });
      }
      await t.step("without the CA the handshake is refused, with the reason", async () => {
        const r = await PROBES.http(
          probeConfig({ type: "http", url: `https://localhost:${port}/` }),
          {
            signal: never,
          },
        );
        assert.equal(r.ok, false);
        assert.match(r.reason!, /^TLS handshake: .*UnknownIssuer/);
        assert.equal(r.code, "tls");
        assert.equal(typeof r.phases.connect, "number");
        assert.equal(r.phases.tls, undefined);
        assert.equal(r.cert_expiry, undefined);
      });
    });
  },
);

serverTest("https probe reports the earliest expiry in the chain", openssl, async (bin) => {
  // The CA expires before the server certificate: the CA's date is the earliest.
  const certs = await makeCerts(bin, { days: 30, caDays: 20 });
  assert.ok(certs.caNotAfter < certs.certNotAfter);
  const probe = createHttpProbe({ caCerts: [certs.ca] });
  await withTlsServer(certs, async (port) => {
    const r = await probe(
      probeConfig({
        type: "http",
        url: `https://127.0.0.1:${port}/`,
        expect: { cert_days_left: 25 },
      }),
      { signal: never },
    );
    assert.equal(r.cert_expiry, certs.caNotAfter);
    assert.equal(r.ok, false);
    assert.match(r.reason!, /^certificate expires in (19\.9|20\.0) days/);
  });
});

serverTest("https probe of a plain-HTTP port fails in the handshake", openssl, async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("plain"),
  );
  try {
    const r = await PROBES.http(
      probeConfig({ type: "http", url: `https://127.0.0.1:${server.addr.port}/` }),
      { signal: AbortSignal.timeout(2000) },
    );
    assert.equal(r.ok, false);
    assert.equal(r.code, "tls");
    assert.match(r.reason!, /^TLS handshake: /);
  } finally {
    await server.shutdown();
  }
});
