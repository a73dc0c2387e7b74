/**
 * Enough of kustomize to check deploy/k8s without the kustomize binary:
 * resources (files and bases), config map and secret generators (create,
 * replace, merge), strategic-merge patches (lists merged by `name`), JSON 6902
 * patches, `namespace` and `images`. Every patch must hit an existing resource
 * (and, for replace and remove, an existing path), as kustomize requires; any
 * miss throws. Validation against the Kubernetes schemas uses
 * kubernetes-models (the API's OpenAPI schemas compiled to validators), plus a
 * check for fields the schema does not know (kubectl's strict field validation).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve as resolvePath } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';

/** A Kubernetes object as parsed from YAML. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Generator {
  name: string;
  behavior?: 'create' | 'replace' | 'merge';
  files?: string[];
  envs?: string[];
  literals?: string[];
  type?: string;
  options?: { disableNameSuffixHash?: boolean };
}

interface Kustomization {
  namespace?: string;
  resources?: string[];
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  patches?: Array<{ path?: string; patch?: string; target?: { kind: string; name: string } }>;
}

/** The result of a build: the objects, and what each patch or generator did. */
export interface Build {
  objects: K8sObject[];
  /** `Kind/name` of every object a patch or replacing generator changed. */
  patched: string[];
}

/** Objects of kinds that have no namespace. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass']);

export function idOf(o: { kind: string; metadata: { name: string } }): string {
  return `${o.kind}/${o.metadata.name}`;
}

/** Every YAML document of a file. */
export function readObjects(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS() as K8sObject).filter((o) => o !== null);
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Strategic merge: objects merge key by key (null deletes), lists of named objects merge by name, other lists are replaced. */
export function strategicMerge(base: Json, patch: Json): Json {
  if (isObject(base) && isObject(patch)) {
    const out: JsonObject = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = key in base ? strategicMerge(base[key], value) : value;
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((p) => isObject(p) && typeof p.name === 'string')) {
    const out = [...base];
    for (const item of patch as JsonObject[]) {
      const i = out.findIndex((b) => isObject(b) && b.name === item.name);
      if (i >= 0) out[i] = strategicMerge(out[i], item);
      else out.push(item);
    }
    return out;
  }
  return patch;
}

function pointer(path: string): string[] {
  return path.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Applies JSON 6902 operations (add, replace, remove) to a copy of `target`. */
export function jsonPatch(target: Json, ops: Array<{ op: string; path: string; value?: Json }>): Json {
  const root = structuredClone(target);
  for (const { op, path, value } of ops) {
    const parts = pointer(path);
    const last = parts.pop();
    if (last === undefined) throw new Error(`patch path ${path} is the whole object`);
    let parent: Json = root;
    for (const p of parts) {
      const next: Json | undefined = Array.isArray(parent) ? parent[Number(p)] : isObject(parent) ? parent[p] : undefined;
      if (next === undefined) throw new Error(`patch ${op} ${path}: ${p} does not exist`);
      parent = next;
    }
    const exists = Array.isArray(parent) ? Number(last) < parent.length : isObject(parent) && last in parent;
    if ((op === 'replace' || op === 'remove') && !exists) throw new Error(`patch ${op} ${path}: the path does not exist`);
    if (op === 'remove') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else if (isObject(parent)) delete parent[last];
    } else if (op === 'add' || op === 'replace') {
      if (value === undefined) throw new Error(`patch ${op} ${path} has no value`);
      if (Array.isArray(parent)) {
        if (last === '-') parent.push(value);
        else parent.splice(Number(last), op === 'add' ? 0 : 1, value);
      } else if (isObject(parent)) parent[last] = value;
    } else throw new Error(`patch op ${op} is not supported here`);
  }
  return root;
}

function envFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const eq = t.indexOf('=');
    if (eq <= 0) throw new Error(`${path}: not KEY=VALUE: ${t}`);
    out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}

/** A generator's data. `fallback` maps a missing file to a stand-in (token.env -> token.env.example). */
function generatorData(dir: string, g: Generator, fallback: (path: string) => string): Record<string, string> {
  const data: Record<string, string> = {};
  const resolve = (p: string): string => (existsSync(join(dir, p)) ? join(dir, p) : fallback(join(dir, p)));
  for (const f of g.files ?? []) {
    const [key, path] = f.includes('=') ? f.split('=', 2) : [basename(f), f];
    data[key] = readFileSync(resolve(path), 'utf8');
  }
  for (const e of g.envs ?? []) Object.assign(data, envFile(resolve(e)));
  for (const l of g.literals ?? []) {
    const eq = l.indexOf('=');
    data[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return data;
}

/** Builds a kustomization directory. Throws when a patch or a replacing generator misses. */
export function build(dir: string, fallback: (path: string) => string = (p) => `${p}.example`): Build {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  let objects: K8sObject[] = [];
  const patched: string[] = [];
  for (const r of k.resources ?? []) {
    const path = resolvePath(dir, r);
    if (statSync(path).isDirectory()) {
      const sub = build(path, fallback);
      objects.push(...sub.objects);
      patched.push(...sub.patched);
    } else objects.push(...readObjects(path));
  }
  const find = (kind: string, name: string): number => objects.findIndex((o) => o.kind === kind && o.metadata.name === name);

  for (const [kind, generators] of [['ConfigMap', k.configMapGenerator ?? []], ['Secret', k.secretGenerator ?? []]] as const) {
    for (const g of generators) {
      if (g.options?.disableNameSuffixHash !== true) throw new Error(`${kind} generator ${g.name}: this check supports generators with disableNameSuffixHash only`);
      const data = generatorData(dir, g, fallback);
      const encoded = kind === 'Secret' ? Object.fromEntries(Object.entries(data).map(([key, v]) => [key, Buffer.from(v).toString('base64')])) : data;
      const i = find(kind, g.name);
      const behavior = g.behavior ?? 'create';
      if (behavior !== 'create' && i < 0) throw new Error(`${kind} generator ${g.name} (${behavior}): no ${kind}/${g.name} to ${behavior}`);
      if (behavior === 'create' && i >= 0) throw new Error(`${kind} generator ${g.name}: ${kind}/${g.name} exists already`);
      const generated: K8sObject = { apiVersion: 'v1', kind, metadata: { name: g.name }, data: encoded, ...(kind === 'Secret' ? { type: g.type ?? 'Opaque' } : {}) };
      if (behavior === 'create') objects.push(generated);
      else {
        const old = objects[i];
        const oldData = behavior === 'merge' ? (old.data as Record<string, string> | undefined) ?? {} : {};
        objects[i] = { ...generated, metadata: { ...old.metadata }, data: { ...oldData, ...encoded } };
        patched.push(idOf(old));
      }
    }
  }

  for (const p of k.patches ?? []) {
    const text = p.path !== undefined ? readFileSync(join(dir, p.path), 'utf8') : p.patch ?? '';
    const doc = parse(text) as Json;
    if (Array.isArray(doc)) {
      if (p.target === undefined) throw new Error('a JSON 6902 patch needs a target');
      const i = find(p.target.kind, p.target.name);
      if (i < 0) throw new Error(`patch target ${p.target.kind}/${p.target.name} does not exist`);
      objects[i] = jsonPatch(objects[i] as unknown as Json, doc as Array<{ op: string; path: string; value?: Json }>) as unknown as K8sObject;
      patched.push(idOf(objects[i]));
    } else {
      const sm = doc as unknown as K8sObject;
      const kind = p.target?.kind ?? sm.kind;
      const name = p.target?.name ?? sm.metadata?.name;
      const i = find(kind, name);
      if (i < 0) throw new Error(`patch ${p.path ?? '(inline)'}: ${kind}/${name} does not exist`);
      if (sm.apiVersion !== undefined && sm.apiVersion !== objects[i].apiVersion) throw new Error(`patch ${p.path}: apiVersion ${sm.apiVersion} is not ${objects[i].apiVersion} of ${kind}/${name}`);
      objects[i] = strategicMerge(objects[i] as unknown as Json, doc) as unknown as K8sObject;
      patched.push(idOf(objects[i]));
    }
  }

  if (k.namespace !== undefined) {
    const ns = k.namespace;
    objects = objects.map((o) => (CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace: ns } }));
  }
  for (const image of k.images ?? []) {
    for (const o of objects) {
      const pod = (o.spec as { template?: { spec?: { containers?: Array<{ image: string }> } } } | undefined)?.template?.spec;
      for (const c of pod?.containers ?? []) {
        const [name, tag] = c.image.split(':');
        if (name === image.name) c.image = `${image.newName ?? name}:${image.newTag ?? tag}`;
      }
    }
  }
  return { objects, patched };
}

interface ModelClass {
  apiVersion: string;
  kind: string;
  prototype: { validate(this: unknown): void };
}

const MODELS: ModelClass[] = [
  ConfigMap, Namespace, Secret, Service, ServiceAccount, Deployment, StatefulSet,
  HorizontalPodAutoscaler, PodDisruptionBudget, ServiceMonitor, PrometheusRule,
] as unknown as ModelClass[];

/**
 * Wraps `value` so that the paths of its object keys that are never read are
 * left in `all` minus `seen`: the schema validators read every property they
 * know, so an unread key is one the schema does not have.
 */
function track(value: unknown, path: string, seen: Set<string>, all: Set<string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  const array = Array.isArray(value);
  if (!array) for (const key of Object.keys(value)) all.add(`${path}.${key}`);
  const children = new Map<string, unknown>();
  return new Proxy(value, {
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(target, key)) return v;
      if (!array) seen.add(`${path}.${key}`);
      if (!children.has(key)) children.set(key, track(v, array ? `${path}[${key}]` : `${path}.${key}`, seen, all));
      return children.get(key);
    },
  });
}

/** Problems of one object: schema errors and unknown fields; empty when valid. */
export function validateObject(o: K8sObject): string[] {
  const model = MODELS.find((m) => m.apiVersion === o.apiVersion && m.kind === o.kind);
  if (model === undefined) return [`${o.apiVersion} ${o.kind}: no schema for this kind`];
  const problems: string[] = [];
  const seen = new Set<string>();
  const all = new Set<string>();
  try {
    model.prototype.validate.call(track(o, '', seen, all));
  } catch (err) {
    problems.push((err as Error).message);
  }
  for (const path of all) if (!seen.has(path)) problems.push(`unknown field ${path.slice(1)}`);
  return problems;
}
