import assert from "node:assert/strict";
import { cidrMatcher, isLoopbackIp, parseCidr, parseIp } from "../src/otlp/cidr.ts";
import { OtlpAccess } from "../src/otlp/access.ts";

Deno.test("IP addresses parse as 128-bit numbers, IPv4 as IPv4-mapped IPv6", async (t) => {
  const cases: [string, bigint | undefined][] = [
    ["127.0.0.1", 0xffff7f000001n],
    ["::ffff:127.0.0.1", 0xffff7f000001n],
    ["::ffff:7f00:1", 0xffff7f000001n],
    ["0.0.0.0", 0xffff00000000n],
    ["::1", 1n],
    ["::", 0n],
    ["[::1]", 1n],
    ["fe80::1%eth0", 0xfe80n << 112n | 1n],
    ["2001:db8::8a2e:370:7334", 0x20010db80000000000008a2e03707334n],
    ["1:2:3:4:5:6:7:8", 0x00010002000300040005000600070008n],
    ["1:2:3:4:5:6:1.2.3.4", 0x00010002000300040005000601020304n],
    ["256.0.0.1", undefined],
    ["1.2.3", undefined],
    ["01.2.3.4", undefined],
    ["1.2.3.4.5", undefined],
    ["1:2:3:4:5:6:7:8:9", undefined],
    ["1::2::3", undefined],
    ["1:2:3:4:5:6:7::8", undefined],
    ["12345::", undefined],
    ["::g", undefined],
    ["1.2.3.4::", undefined],
    ["localhost", undefined],
    ["", undefined],
  ];
  for (const [text, want] of cases) {
    await t.step(
      `${JSON.stringify(text)} is ${want === undefined ? "not an address" : want}`,
      () => {
        assert.equal(parseIp(text), want);
      },
    );
  }
});

Deno.test("CIDR ranges match the addresses inside them, in both families", async (t) => {
  const cases: { range: string; inside: string[]; outside: string[] }[] = [
    {
      range: "172.16.0.0/12",
      inside: ["172.16.0.1", "172.31.255.255", "::ffff:172.17.0.2"],
      outside: ["172.32.0.0", "172.15.255.255", "10.0.0.1", "::1", "fd00::1"],
    },
    { range: "10.0.0.0/8", inside: ["10.255.1.2"], outside: ["11.0.0.0", "::a00:1"] },
    { range: "192.168.1.7", inside: ["192.168.1.7"], outside: ["192.168.1.8"] },
    { range: "192.168.1.7/32", inside: ["192.168.1.7"], outside: ["192.168.1.6"] },
    { range: "0.0.0.0/0", inside: ["1.2.3.4", "255.255.255.255"], outside: ["::1", "fd00::1"] },
    { range: "10.1.2.3/8", inside: ["10.9.9.9"], outside: ["11.1.2.3"] },
    {
      range: "fd00::/8",
      inside: ["fd12:3456::1", "fdff::"],
      outside: ["fe00::", "::1", "10.0.0.1"],
    },
    { range: "2001:db8::/32", inside: ["2001:db8:ffff::1"], outside: ["2001:db9::"] },
    { range: "::1/128", inside: ["::1", "[::1]"], outside: ["::2"] },
    { range: "::/0", inside: ["::1", "fd00::1", "1.2.3.4"], outside: ["not-an-ip"] },
    { range: "fe80::/10", inside: ["fe80::1%eth0", "febf::1"], outside: ["fec0::1"] },
  ];
  for (const c of cases) {
    await t.step(c.range, () => {
      const cidr = parseCidr(c.range);
      assert.ok(cidr, `${c.range} parses`);
      const match = cidrMatcher([cidr]);
      for (const a of c.inside) assert.equal(match(a), true, `${a} is in ${c.range}`);
      for (const a of c.outside) assert.equal(match(a), false, `${a} is not in ${c.range}`);
    });
  }
});

Deno.test("text that is not a CIDR range is refused", async (t) => {
  for (
    const bad of [
      "172.16.0.0/33",
      "fd00::/129",
      "10.0.0.0/",
      "10.0.0.0/-1",
      "10.0.0.0/08",
      "10.0.0.0/8/8",
      "fe80::1%eth0/64",
      "example.com/24",
      "",
      "/8",
    ]
  ) {
    await t.step(JSON.stringify(bad), () => assert.equal(parseCidr(bad), undefined));
  }
});

Deno.test("an empty allow-list matches nothing, several ranges match any of them", () => {
  assert.equal(cidrMatcher([])("10.0.0.1"), false);
  const m = cidrMatcher([parseCidr("10.0.0.0/8")!, parseCidr("fd00::/8")!]);
  assert.equal(m("10.1.1.1"), true);
  assert.equal(m("fd00::5"), true);
  assert.equal(m("192.168.0.1"), false);
});

Deno.test("loopback is 127.0.0.0/8 and ::1, mapped or not", () => {
  for (const a of ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1", "[::1]"]) {
    assert.equal(isLoopbackIp(a), true, a);
  }
  for (const a of ["128.0.0.1", "::2", "0.0.0.0", "::", "10.0.0.1", "localhost"]) {
    assert.equal(isLoopbackIp(a), false, a);
  }
});

Deno.test("OTLP access: loopback and allow_from are open, others need the write token", async (t) => {
  let token = "s3cret";
  const access = new OtlpAccess({ allowFrom: [parseCidr("172.16.0.0/12")!], token: () => token });
  const cases: { name: string; addr?: string; auth?: string; ok: boolean; message?: RegExp }[] = [
    { name: "loopback without a token", addr: "127.0.0.1", ok: true },
    { name: "IPv6 loopback", addr: "::1", ok: true },
    { name: "an allowed compose address", addr: "172.18.0.5", ok: true },
    { name: "an allowed address, IPv4-mapped", addr: "::ffff:172.18.0.5", ok: true },
    {
      name: "another address without a token",
      addr: "203.0.113.7",
      ok: false,
      message: /203\.0\.113\.7 is not in otlp_receiver\.allow_from: send authorization: Bearer/,
    },
    {
      name: "another address with the token",
      addr: "203.0.113.7",
      auth: "Bearer s3cret",
      ok: true,
    },
    { name: "the scheme in any case", addr: "203.0.113.7", auth: "bearer s3cret", ok: true },
    {
      name: "another address with a wrong token",
      addr: "203.0.113.7",
      auth: "Bearer nope",
      ok: false,
      message: /wrong bearer token/,
    },
    {
      name: "a token that is not a bearer token",
      addr: "203.0.113.7",
      auth: "Basic czNjcmV0",
      ok: false,
      message: /not in otlp_receiver\.allow_from/,
    },
    { name: "an unknown address with the token", auth: "Bearer s3cret", ok: true },
    { name: "an unknown address without", ok: false, message: /an unknown address/ },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const d = access.check(c.addr, c.auth);
      assert.equal(d.ok, c.ok);
      if (!d.ok && c.message) assert.match(d.message, c.message);
    });
  }
  await t.step("without a write token, only loopback and allow_from get in", () => {
    token = "";
    const d = access.check("203.0.113.7", "Bearer ");
    assert.equal(d.ok, false);
    assert.equal(access.check("203.0.113.7", "Bearer anything").ok, false);
    const none = access.check("203.0.113.7", undefined);
    assert.ok(!none.ok && /server\.write_token is not set/.test(none.message));
  });
  await t.step("a reloaded allow_from applies at once", () => {
    access.setAllowFrom([parseCidr("203.0.113.0/24")!]);
    assert.equal(access.check("203.0.113.7", undefined).ok, true);
    assert.equal(access.check("172.18.0.5", undefined).ok, false);
  });
});
