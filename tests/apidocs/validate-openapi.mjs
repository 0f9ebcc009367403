// Validates an OpenAPI document against the OpenAPI 3.x specification schemas (and the parser's
// own checks: duplicate operationIds and parameters, component names, unresolvable $refs).
//   node validate-openapi.mjs FILE
// Prints "valid" and exits 0, or prints the problems and exits 1.
import { readFileSync } from 'node:fs';
import { validate, compileErrors } from '@readme/openapi-parser';

const file = process.argv[2];
const document = JSON.parse(readFileSync(file, 'utf8'));
const result = await validate(document, { validate: { errors: { colorize: false } } });
if (result.valid) {
  console.log(`valid: OpenAPI ${document.openapi}, ${Object.keys(document.paths ?? {}).length} paths`);
  if (result.warnings?.length) console.log(JSON.stringify(result.warnings));
  process.exit(0);
}
console.log(compileErrors(result));
process.exit(1);
