#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz) into OUT/<target>/, from the tests'
payloads (tests/data/*.json), the golden records (tests/golden/*.jsonl), the bundled configs, and
small traces and spool segments synthesized here in the formats of docs/trace-format.md and
stages/spool/spool_format.hpp. Deterministic: the same files every run. Usage: make_seeds.py OUT"""
import pathlib
import struct
import sys
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = sorted((ROOT / "tests" / "data").glob("*.json"))
GOLDEN = sorted((ROOT / "tests" / "golden").glob("*.jsonl"))
SOURCES = ["iss", "randomuser", "coingecko"]


def payloads():
    out = [p.read_bytes() for p in DATA]
    for g in GOLDEN:
        out += [line for line in g.read_bytes().splitlines() if line.strip()][:3]
    return out


def trace_frame(source: bytes, body: bytes, ns: int, status: int = 200) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(source))
    return struct.pack("<IIqHHI", 0x52465045, len(body), ns, status, len(source), crc) + source + body


def trace_file(frames) -> bytes:
    return b"EPTRACE\x01" + struct.pack("<II", 1, 0) + b"".join(frames)


def segment_header(first_id: int, sources) -> bytes:
    body = b"EPSPOOL1" + struct.pack("<II", 1, 0) + struct.pack("<qq", first_id, 1_700_000_000_000_000_000)
    body = body[:16] + struct.pack("<Q", first_id) + body[24:]
    body += struct.pack("<I", len(sources))
    for s in sources:
        body += struct.pack("<H", len(s)) + s.encode()
    total = len(body) + 4
    body = body[:12] + struct.pack("<I", total) + body[16:]
    return body + struct.pack("<I", zlib.crc32(body))


def spool_frame(first_id: int, records) -> bytes:
    """records: (key, value, source) tuples."""
    arena = b""
    table = b""
    for i, (key, value, source) in enumerate(records):
        koff = len(arena)
        arena += key
        voff = len(arena)
        arena += value
        table += struct.pack("<IIIIqqHHI", koff, len(key), voff, len(value), 1_700_000_000_000 + i,
                             1_700_000_000_000_000_000, source, 0, 0)
    rest = struct.pack("<IIQ", len(table) + len(arena), len(records), first_id) + table + arena
    return struct.pack("<II", 0x46535045, zlib.crc32(rest)) + rest


def spool_segments():
    recs = [(b"k%d" % i, line, i % 3) for i, line in enumerate(payloads()[3:9])]
    seg0 = segment_header(0, SOURCES) + spool_frame(0, recs[:3]) + spool_frame(3, recs[3:])
    seg1 = segment_header(6, SOURCES[::-1]) + spool_frame(6, recs[:2])
    yield "one_segment", seg0
    yield "two_segments", seg0 + seg1
    yield "torn_tail", seg0[:-7]
    yield "zero_padding", seg0 + b"\0" * 300
    yield "empty_last", seg0 + segment_header(6, SOURCES)
    yield "bad_middle_header", seg0 + seg1[:20] + b"X" + seg1[21:] + segment_header(8, SOURCES)
    yield "ledger", seg0 + b"edgepipe spool ledger v1\nsink=s\nconfirmed_end=4\n"


def main():
    out = pathlib.Path(sys.argv[1])
    seeds = {}
    p = payloads()
    seeds["fuzz_transform"] = {f"payload{i}": b + b"\0\0" for i, b in enumerate(p)}
    # The same payloads with spec bytes (the last u16 is their length): a few shapes of spec.
    for i, b in enumerate(p[:3]):
        spec = bytes(range(i * 7, i * 7 + 48))
        seeds["fuzz_transform"][f"payload{i}_spec"] = b + spec + struct.pack("<H", len(spec))
    seeds["fuzz_config_loader"] = {
        "default.toml": (ROOT / "config" / "default.toml").read_bytes(),
        "edge.toml": (ROOT / "config" / "edge.toml").read_bytes(),
        "include.toml": b'include = "embedded:default"\n[pipeline]\nbatch_payloads = 8\n',
        "durations.toml": b'include = "embedded:default"\n[spool]\nfsync_interval_ms = "250ms"\n'
                          b'retry_backoff_max_ms = "2m"\n',
    }
    frames = [trace_frame(s.encode(), b, 1_700_000_000_000_000_000 + i)
              for i, (s, b) in enumerate(zip(SOURCES, p))]
    seeds["fuzz_trace_reader"] = {
        "framed": trace_file(frames),
        "framed_torn": trace_file(frames)[:-5],
        "framed_corrupt": trace_file([frames[0][:30] + b"!" + frames[0][31:]] + frames[1:]),
        "jsonl": b"\n".join(p[3:]) + b"\n",
        "jsonl_crlf_blank": b"\r\n\r\n".join(p[3:6]) + b"\n  \n",
    }
    seeds["fuzz_spool_recovery"] = dict(spool_segments())
    seeds["fuzz_http_body"] = {f"body{i}": b for i, b in enumerate(p)}
    seeds["fuzz_http_body"]["headers"] = (b"ETag: \"abc\"\r\nRetry-After: 120\r\n"
                                          b"Retry-After: Wed, 21 Oct 2037 07:28:00 GMT\r\n" + p[0])
    for target, files in seeds.items():
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (d / name).write_bytes(content)
    print(f"make_seeds: {sum(len(f) for f in seeds.values())} seeds in {out}")


if __name__ == "__main__":
    main()
