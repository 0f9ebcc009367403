// A gRPC client of the gateway written only with @grpc/grpc-js and @grpc/proto-loader, from the
// gateway's proto file: the second client the tests drive (tests/Gateway.FunctionalTests/Grpc).
//
//   node client.mjs <host:port> <calls.json>
//
// calls.json is an array of calls: {"method": "ModelInfer", "request": {...}, "metadata": {...}}
// with requests in proto-loader's JSON form (bytes as base64 strings). Prints one JSON line per
// call: {"code": 0, "details": "", "response": {...}} with bytes as base64, and exits 0.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const here = dirname(fileURLToPath(import.meta.url));
const protoPath = join(here, '..', '..', 'src', 'Gateway', 'Grpc', 'Protos', 'grpc_predict_v2.proto');
const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const { inference } = grpc.loadPackageDefinition(definition);

const [address, callsFile] = process.argv.slice(2);
const client = new inference.GRPCInferenceService(address, grpc.credentials.createInsecure(), {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
});

// Bytes fields arrive as base64 text in the plan; proto-loader wants Buffers.
function toBuffers(request) {
  if (Array.isArray(request.raw_input_contents)) {
    request.raw_input_contents = request.raw_input_contents.map((b) => Buffer.from(b, 'base64'));
  }
  return request;
}

function call(method, request, metadata, deadlineMs) {
  const meta = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata ?? {})) {
    meta.add(key, value);
  }
  const options = deadlineMs ? { deadline: new Date(Date.now() + deadlineMs) } : {};
  return new Promise((resolve) => {
    client[method](toBuffers(request ?? {}), meta, options, (error, response) => {
      if (error) {
        resolve({ code: error.code, details: error.details });
      } else {
        if (Array.isArray(response.raw_output_contents)) {
          response.raw_output_contents = response.raw_output_contents.map((b) => Buffer.from(b).toString('base64'));
        }
        resolve({ code: 0, details: '', response });
      }
    });
  });
}

const calls = JSON.parse(readFileSync(callsFile, 'utf8'));
for (const c of calls) {
  process.stdout.write(JSON.stringify(await call(c.method, c.request, c.metadata, c.deadline_ms)) + '\n');
}
client.close();
