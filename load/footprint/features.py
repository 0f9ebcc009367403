#!/usr/bin/env python3
# load/footprint/features.py GATEWAY_DBG_NM [PID]: code bytes per feature, from `nm -S artifacts/publish/gateway/gateway.dbg`
# (symbol-name prefixes of the AOT binary), and, given the PID of a running gateway, how much of each is resident (/proc/PID/pagemap).
import sys, os, struct, collections
FEATURES = [
    ("storage+identity (Npgsql, Dapper.AOT, SQLite, Redis, IdentityModel, Gateway.Identity)",
     ("Npgsql", "Dapper_AOT", "SQLitePCLRaw", "Microsoft_Data", "StackExchange_Redis", "Pipelines_Sockets", "Gateway_Identity", "Microsoft_IdentityModel", "BCrypt")),
    ("telemetry: Sentry", ("Sentry",)),
    ("telemetry: OpenTelemetry", ("OpenTelemetry",)),
    ("telemetry: prometheus-net", ("Prometheus",)),
    ("gRPC (Grpc.AspNetCore, Google.Protobuf)", ("Grpc_", "Google_Protobuf")),
    ("OpenAPI (Microsoft.OpenApi, AspNetCore.OpenApi)", ("Microsoft_OpenApi", "Microsoft_AspNetCore_OpenApi")),
    ("ONNX Runtime bindings", ("Microsoft_ML", "<PInvokeDelegateWrapper>Microsoft_ML")),
    ("TorchSharp bindings", ("TorchSharp", "<PInvokeDelegateWrapper>TorchSharp")),
    ("gateway's own code", ("gateway_", "Gateway_")),
    ("ASP.NET Core", ("Microsoft_AspNetCore",)),
    ("Microsoft.Extensions", ("Microsoft_Extensions",)),
    ("CoreLib (incl. generic instantiations over other assemblies' types)", ("S_P_CoreLib", "unbox_S_P")),
    ("System.* libraries", ("System_",)),
]
def feature(name):
    n = name[7:] if name.startswith("<Boxed>") else name
    for label, prefixes in FEATURES:
        if n.startswith(prefixes):
            return label
    return "native runtime, GC, compression, OpenSSL shim, other"
rows = []
for line in open(sys.argv[1]):
    p = line.split(None, 3)
    if len(p) == 4 and p[2] in "tT":
        rows.append((int(p[0], 16), int(p[1], 16), p[3].strip()))
present = None
if len(sys.argv) > 2:
    pid = int(sys.argv[2]); exe = os.path.realpath(f"/proc/{pid}/exe"); maps = []
    for line in open(f"/proc/{pid}/maps"):
        q = line.split()
        if len(q) >= 6 and q[5] == exe:
            s, e = (int(x, 16) for x in q[0].split("-")); maps.append((s, e, int(q[2], 16)))
    bias = min(s for s, e, off in maps if off == 0); present = set()
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        for s, e, off in maps:
            f.seek(s // 4096 * 8); data = f.read((e - s) // 4096 * 8)
            for i in range((e - s) // 4096):
                if struct.unpack_from("<Q", data, i * 8)[0] >> 63 & 1: present.add((s - bias) // 4096 + i)
tot = collections.Counter(); res = collections.Counter()
for a, size, name in rows:
    f = feature(name); tot[f] += size
    if present is not None:
        for pg in range(a // 4096, (a + size - 1) // 4096 + 1):
            if pg in present: res[f] += min(a + size, (pg + 1) * 4096) - max(a, pg * 4096)
print(f"| feature | code (KiB) |" + (" resident at idle (KiB) |" if present is not None else ""))
print("|---|--:|" + ("--:|" if present is not None else ""))
for f, v in tot.most_common():
    print(f"| {f} | {v/1024:,.0f} |" + (f" {res[f]/1024:,.0f} |" if present is not None else ""))
print(f"| all named code | {sum(tot.values())/1024:,.0f} |" + (f" {sum(res.values())/1024:,.0f} |" if present is not None else ""))
if present is not None: print("resident pages of the binary (all mappings):", len(present) * 4, "KiB")
