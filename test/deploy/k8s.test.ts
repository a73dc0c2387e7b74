/**
 * deploy/k8s: every manifest of the base and of the example overlay (built
 * with its generators and patches) validates against the Kubernetes schemas
 * (kubernetes-models) without unknown fields, and the pieces fit together:
 * selectors, ports, probes, volumes, the trainer's URL, the config files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '../../config/index.ts';
import { prometheusRuleText } from '../../deploy/derived.ts';
import { build, idOf, jsonPatch, readObjects, strategicMerge, validateObject, type K8sObject } from './kustomize.ts';

const K8S = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url));
const BASE = join(K8S, 'base');
const OVERLAY = join(K8S, 'overlays', 'example');

interface Probe { httpGet?: { path: string; port: string | number } }
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  volumes?: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: object }>;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  terminationGracePeriodSeconds?: number;
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
  };
}
interface ServiceObj extends K8sObject {
  spec: { clusterIP?: string; publishNotReadyAddresses?: boolean; selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: string | number }> };
}

function get<T extends K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind}/${name} missing`);
  return found as T;
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Kubernetes quantities in base units (cores, bytes). */
function quantity(q: string): number {
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(q);
  assert.ok(m, `quantity ${q}`);
  const scale: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9 };
  return Number(m[1]) * (m[2] === undefined ? 1 : scale[m[2]]);
}

function baseFiles(): string[] {
  const kustomization = parse(readFileSync(join(BASE, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return kustomization.resources;
}

test('every file of the base is a listed resource and every resource validates against the Kubernetes schemas', () => {
  const files = readdirSync(BASE).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
  assert.deepEqual([...baseFiles()].sort(), files);
  const kinds = new Set<string>();
  for (const file of files) {
    const objects = readObjects(join(BASE, file));
    assert.equal(objects.length, 1, `${file} holds one object`);
    for (const o of objects) {
      kinds.add(o.kind);
      assert.deepEqual(validateObject(o), [], `${file}: ${idOf(o)}`);
      assert.equal(o.metadata.labels?.['app.kubernetes.io/name'], 'bonsai', `${file}: ${idOf(o)} lacks the app label`);
    }
  }
  for (const kind of ['StatefulSet', 'Deployment', 'HorizontalPodAutoscaler', 'Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule']) {
    assert.ok(kinds.has(kind), `no ${kind} in the base`);
  }
});

test('the schema check is real: wrong types, missing fields and unknown fields are reported', () => {
  const deployment = readObjects(join(BASE, 'server-deployment.yaml'))[0] as Workload;
  const typo = structuredClone(deployment) as Workload & { spec: { replica?: number } };
  typo.spec.replica = 3;
  assert.deepEqual(validateObject(typo), ['unknown field spec.replica']);
  const badPort = structuredClone(deployment);
  (badPort.spec.template.spec.containers[0].ports ?? [])[0].containerPort = 'http' as unknown as number;
  assert.match(validateObject(badPort).join('\n'), /containerPort must be integer/);
  const noSelector = structuredClone(deployment) as K8sObject & { spec: Partial<Workload['spec']> };
  delete noSelector.spec.selector;
  assert.match(validateObject(noSelector).join('\n'), /selector/);
  const probeTypo = structuredClone(deployment);
  (probeTypo.spec.template.spec.containers[0] as Container & { readinesProbe?: Probe }).readinesProbe = { httpGet: { path: '/readyz', port: 'http' } };
  assert.deepEqual(validateObject(probeTypo), ['unknown field spec.template.spec.containers[0].readinesProbe']);
});

test('the example overlay builds: every patch and generator hits a base resource, and the result validates', () => {
  const { objects, patched } = build(OVERLAY);
  assert.deepEqual([...new Set(patched)].sort(), [
    'ConfigMap/bonsai-config', 'HorizontalPodAutoscaler/bonsai-server', 'PrometheusRule/bonsai', 'Secret/bonsai-token', 'ServiceMonitor/bonsai', 'StatefulSet/bonsai-trainer',
  ]);
  for (const o of objects) {
    assert.deepEqual(validateObject(o), [], idOf(o));
    if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'bonsai', `${idOf(o)} namespace`);
  }
  const trainer = get<Workload>(objects, 'StatefulSet', 'bonsai-trainer');
  assert.equal(trainer.spec.template.spec.containers[0].image, 'registry.example.com/bonsai:0.1.0');
  assert.equal(trainer.spec.template.spec.containers[0].resources?.limits?.memory, '16Gi');
  // The strategic merge kept the rest of the container.
  assert.equal(trainer.spec.template.spec.containers[0].readinessProbe?.httpGet?.path, '/healthz');
  const claim = (trainer.spec.volumeClaimTemplates ?? [])[0] as unknown as { spec: { storageClassName: string; resources: { requests: { storage: string } } } };
  assert.equal(claim.spec.resources.requests.storage, '50Gi');
  assert.equal(claim.spec.storageClassName, 'standard');
  assert.equal(get(objects, 'ServiceMonitor', 'bonsai').metadata.labels?.release, 'kube-prometheus-stack');
  const secret = get<K8sObject & { data: Record<string, string> }>(objects, 'Secret', 'bonsai-token');
  assert.ok(Buffer.from(secret.data.token, 'base64').toString().length > 0);
});

test('a patch that misses its resource or path fails the build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-kustomize-'));
  try {
    writeFileSync(join(dir, 'kustomization.yaml'), `resources: [${JSON.stringify(join(BASE, 'server-hpa.yaml'))}]\npatches:\n  - path: p.yaml\n`);
    writeFileSync(join(dir, 'p.yaml'), 'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: bonsai-servers\nspec:\n  minReplicas: 3\n');
    assert.throws(() => build(dir), /HorizontalPodAutoscaler\/bonsai-servers does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => jsonPatch({ spec: {} }, [{ op: 'replace', path: '/spec/replicas', value: 2 }]), /does not exist/);
  assert.deepEqual(strategicMerge({ c: [{ name: 'a', x: 1, y: 2 }, { name: 'b' }] }, { c: [{ name: 'a', x: 3 }] }), { c: [{ name: 'a', x: 3, y: 2 }, { name: 'b' }] });
});

test('one trainer with a volume for the state directory; servers follow it by its Service name', () => {
  const objects = baseFiles().flatMap((f) => readObjects(join(BASE, f)));
  const trainer = get<Workload>(objects, 'StatefulSet', 'bonsai-trainer');
  assert.equal(trainer.spec.replicas, 1);
  const headless = get<ServiceObj>(objects, 'Service', trainer.spec.serviceName ?? '');
  assert.equal(headless.spec.clusterIP, 'None');
  assert.equal(headless.spec.publishNotReadyAddresses, true);
  const [claim] = trainer.spec.volumeClaimTemplates ?? [];
  const t = trainer.spec.template.spec.containers[0];
  assert.ok(t.volumeMounts?.some((m) => m.name === claim.metadata.name && m.mountPath === '/var/lib/bonsai'));
  assert.deepEqual(t.env?.find((e) => e.name === 'BONSAI_ROLE')?.value, 'trainer');

  const server = get<Workload>(objects, 'Deployment', 'bonsai-server');
  assert.equal(server.spec.replicas, undefined, 'the HPA owns the replica count');
  const s = server.spec.template.spec.containers[0];
  assert.equal(s.env?.find((e) => e.name === 'BONSAI_ROLE')?.value, 'server');
  const url = new URL(s.env?.find((e) => e.name === 'BONSAI_TRAINER_URL')?.value ?? '');
  assert.equal(url.hostname, headless.metadata.name);
  assert.ok(headless.spec.ports.some((p) => p.port === Number(url.port)), `trainer Service has no port ${url.port}`);

  const hpa = get<K8sObject & { spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number } }>(objects, 'HorizontalPodAutoscaler', 'bonsai-server');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'bonsai-server' });
  assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
  const pdb = get<K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }>(objects, 'PodDisruptionBudget', 'bonsai-server');
  assert.ok(matches(pdb.spec.selector.matchLabels, server.spec.template.metadata.labels));
  assert.ok(!matches(pdb.spec.selector.matchLabels, trainer.spec.template.metadata.labels));
});

test('pods: probes on /healthz and /readyz (servers), preStop delay, requests and limits, non-root, volumes that exist', () => {
  const objects = baseFiles().flatMap((f) => readObjects(join(BASE, f)));
  const dockerUser = /^USER (\d+)/m.exec(readFileSync(join(K8S, '..', 'Dockerfile'), 'utf8'))?.[1];
  for (const w of objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment') as Workload[]) {
    const where = idOf(w);
    assert.ok(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels), `${where}: selector does not match its pods`);
    const pod = w.spec.template.spec;
    assert.equal(pod.securityContext?.runAsNonRoot, true, where);
    assert.equal(String(pod.securityContext?.runAsUser), dockerUser, `${where}: runAsUser is the image's USER`);
    for (const c of pod.containers) {
      const ports = new Set((c.ports ?? []).map((p) => p.name));
      assert.equal(c.startupProbe?.httpGet?.path, '/healthz', `${where} startupProbe`);
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${where} livenessProbe`);
      // Servers are Ready once they serve a model; the trainer, which takes no predict traffic, once it answers
      // (a fresh install has no model until data arrives, and must roll out).
      assert.equal(c.readinessProbe?.httpGet?.path, w.kind === 'StatefulSet' ? '/healthz' : '/readyz', `${where} readinessProbe`);
      for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) assert.ok(ports.has(String(probe?.httpGet?.port)), `${where}: probe port ${probe?.httpGet?.port}`);
      const sleep = c.lifecycle?.preStop?.exec?.command;
      assert.equal(sleep?.[0], 'sleep', `${where}: preStop delay`);
      assert.ok((pod.terminationGracePeriodSeconds ?? 30) > Number(sleep?.[1]) + 10, `${where}: grace period covers the preStop delay and draining`);
      for (const r of ['cpu', 'memory']) {
        const request = c.resources?.requests?.[r];
        const limit = c.resources?.limits?.[r];
        assert.ok(request !== undefined && limit !== undefined, `${where}: ${r} request and limit`);
        assert.ok(quantity(limit) >= quantity(request), `${where}: ${r} limit ${limit} < request ${request}`);
      }
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
      assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
      const volumes = new Set([...(pod.volumes ?? []).map((v) => v.name), ...(w.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name)]);
      for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${where}: mount ${m.name} has no volume`);
      assert.deepEqual(c.args, ['start', '--config', '/etc/bonsai/bonsai.yaml']);
    }
    for (const v of pod.volumes ?? []) {
      if (v.configMap) get(objects, 'ConfigMap', v.configMap.name);
      if (v.secret) get(objects, 'Secret', v.secret.secretName);
    }
  }
});

test('Services reach their pods by a named port and the ServiceMonitor scrapes both with job="bonsai"', () => {
  const objects = baseFiles().flatMap((f) => readObjects(join(BASE, f)));
  const workloads = objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment') as Workload[];
  const services = objects.filter((o) => o.kind === 'Service') as ServiceObj[];
  for (const svc of services) {
    const targets = workloads.filter((w) => matches(svc.spec.selector, w.spec.template.metadata.labels));
    assert.equal(targets.length, 1, `Service/${svc.metadata.name} selects ${targets.length} workloads`);
    const names = new Set(targets[0].spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)));
    for (const p of svc.spec.ports) assert.ok(names.has(String(p.targetPort)), `Service/${svc.metadata.name} port ${p.name}`);
  }
  const monitor = get<K8sObject & { spec: { jobLabel: string; selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> } }>(objects, 'ServiceMonitor', 'bonsai');
  const scraped = services.filter((s) => matches(monitor.spec.selector.matchLabels, s.metadata.labels));
  assert.deepEqual(scraped.map((s) => s.metadata.name).sort(), ['bonsai', 'bonsai-trainer']);
  for (const s of scraped) {
    assert.equal(s.metadata.labels?.[monitor.spec.jobLabel], 'bonsai', 'job label the rules expect');
    for (const e of monitor.spec.endpoints) assert.ok(s.spec.ports.some((p) => p.name === e.port), `${s.metadata.name} has no port ${e.port}`);
  }
  assert.deepEqual(monitor.spec.endpoints.map((e) => e.path), ['/metrics']);
});

test('the config files of the base and the overlay are valid bonsai configs that read the mounted token', () => {
  const objects = baseFiles().flatMap((f) => readObjects(join(BASE, f)));
  const trainer = get<Workload>(objects, 'StatefulSet', 'bonsai-trainer');
  const mounts = trainer.spec.template.spec.containers[0].volumeMounts ?? [];
  const tokenDir = mounts.find((m) => m.name === 'token')?.mountPath;
  const configDir = mounts.find((m) => m.name === 'config')?.mountPath;
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-k8s-config-'));
  try {
    const texts = [
      (get<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap', 'bonsai-config')).data['bonsai.yaml'],
      readFileSync(join(OVERLAY, 'bonsai.yaml'), 'utf8'),
    ];
    for (const [i, text] of texts.entries()) {
      const file = join(dir, `${i}.yaml`);
      writeFileSync(file, text);
      const config = loadConfig({ file, env: { BONSAI_ROLE: 'server', BONSAI_TRAINER_URL: 'http://bonsai-trainer:8080' }, flags: {} });
      assert.equal(config.stateDir, '/var/lib/bonsai');
      assert.equal(config.server.host, '0.0.0.0');
      assert.equal(config.server.tokenFile, `${tokenDir}/token`);
      assert.equal(config.role, 'server');
    }
    assert.equal(configDir, '/etc/bonsai');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prometheusrule.yaml holds the groups of deploy/prometheus/rules.yml (regenerate: npx tsx deploy/generate.ts)', () => {
  const rules = readFileSync(join(K8S, '..', 'prometheus', 'rules.yml'), 'utf8');
  assert.equal(readFileSync(join(BASE, 'prometheusrule.yaml'), 'utf8'), prometheusRuleText(rules));
});

test('Dockerfile: multi-stage, glibc Node 20 image, native backend checked at build, non-root, HEALTHCHECK', () => {
  const text = readFileSync(join(K8S, '..', 'Dockerfile'), 'utf8');
  const stages = [...text.matchAll(/^FROM (\S+)(?: AS (\S+))?/gm)];
  assert.ok(stages.length >= 2, 'multi-stage');
  assert.match(text, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
  assert.doesNotMatch(text, /alpine/);
  assert.match(text, /require\('@tensorflow\/tfjs-node'\)/);
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const user = /^USER (\S+)/m.exec(runtime)?.[1] ?? 'root';
  assert.ok(!['root', '0', '0:0'].includes(user), `runs as ${user}`);
  assert.match(runtime, /^HEALTHCHECK .*\n.*\/healthz/m);
  assert.match(runtime, /^ENTRYPOINT \[.*"\/app\/bin\/bonsai\.js"\]$/m);
  const ignore = readFileSync(join(K8S, '..', '..', '.dockerignore'), 'utf8').split('\n');
  for (const m of runtime.matchAll(/^COPY (?!--from)(\S+) /gm)) {
    const path = m[1].replace(/\/$/, '');
    assert.ok(ignore.includes(`!${path}`) || ignore.includes(`!${path}/`), `.dockerignore excludes ${path}, which the image copies`);
    assert.ok(readdirSync(join(K8S, '..', '..')).includes(path), `COPY ${path}: not in the repository`);
  }
});
