/**
 * deploy/k8s: every manifest parses, and the fields that make a rollout safe are there and agree with
 * each other and with the bidder: probes on the admin port's /readyz and /healthz, resources, a grace
 * period longer than preStop plus the bidder's own shutdown limit, a non-root read-only container whose
 * uid is the image's, PDB and HPA aimed at the Deployment, only environment variables the bidder reads,
 * and a campaign ConfigMap the bidder's own loader accepts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { bundleFromTexts } from '../../src/config/load-bundle.js';
import { NODE_ENV_NAMES, parseDockerfile, read, ROOT, settingDefault, settingsEnvNames } from './support.js';

const DIR = join(ROOT, 'deploy', 'k8s');
type Obj = Record<string, any>;

const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const docs: { file: string; doc: Obj }[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as Obj };
  }),
);
const ofKind = (kind: string) => docs.filter((d) => d.doc?.kind === kind).map((d) => d.doc);
const one = (kind: string, name?: string) => {
  const all = ofKind(kind).filter((d) => !name || d.metadata.name === name);
  expect(all, `${kind} ${name ?? ''}`).toHaveLength(1);
  return all[0];
};

/** How long the bidder may take after SIGTERM: SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS, as configured or by default. */
function shutdownBudgetMs(env: Record<string, string>): number {
  const value = (name: string) => (env[name] !== undefined ? Number(env[name]) : settingDefault(name));
  return value('SHUTDOWN_DELAY_MS') + value('SHUTDOWN_TIMEOUT_MS');
}

describe('Kubernetes manifests', () => {
  it('every file parses into objects with apiVersion, kind and a name', () => {
    expect(files.sort()).toEqual(
      expect.arrayContaining(['configmap-campaigns.yaml', 'configmap-env.yaml', 'deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'secret.example.yaml', 'service.yaml']),
    );
    for (const { file, doc } of docs) {
      if (doc.kind === 'Kustomization') continue;
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
      expect(doc.metadata?.name, file).toBeTruthy();
    }
    expect(ofKind('Service')).toHaveLength(2);
  });

  it('kustomization lists every manifest but the Secret template', () => {
    const k = one('Kustomization');
    const expected = files.filter((f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml').sort();
    expect([...k.resources].sort()).toEqual(expected);
  });

  const dep = () => one('Deployment', 'rtb-bidder');
  const container = () => dep().spec.template.spec.containers[0];

  it('Deployment: selector matches the pod labels; readiness on /readyz, liveness and startup on /healthz, on the admin port', () => {
    const d = dep();
    const labels = d.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) expect(labels[k], k).toBe(v);
    const c = container();
    const admin = c.ports.find((p: Obj) => p.name === 'admin');
    const bid = c.ports.find((p: Obj) => p.name === 'bid');
    expect(admin.containerPort).toBe(8081);
    expect(bid.containerPort).toBe(8080);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    // A not-ready pod leaves the endpoints within seconds; liveness is slower to restart.
    expect(c.readinessProbe.periodSeconds * c.readinessProbe.failureThreshold).toBeLessThanOrEqual(5);
    expect(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold).toBeGreaterThanOrEqual(20);
  });

  it("Deployment: a CPU per bid thread requested, memory limited, every thread's heap capped within the limit", () => {
    const r = container().resources;
    const env = one('ConfigMap', 'rtb-bidder-env').data;
    const workers = Number(env.WORKERS);
    expect(workers, 'WORKERS must be set: its default is every CPU of the node').toBeGreaterThanOrEqual(1);
    expect(Number(r.requests.cpu)).toBe(workers);
    expect(r.limits?.cpu).toBeUndefined();
    expect(r.limits.memory).toBe(r.requests.memory);
    const mib = (q: string) => (/^(\d+)Gi$/.test(q) ? Number(q.slice(0, -2)) * 1024 : Number(/^(\d+)Mi$/.exec(q)?.[1]));
    const limitMiB = mib(r.limits.memory);
    const opts = container().env.find((e: Obj) => e.name === 'NODE_OPTIONS')?.value ?? '';
    const heap = Number(/--max-old-space-size=(\d+)/.exec(opts)?.[1]);
    expect(heap).toBeGreaterThan(0);
    expect(workers * heap + 256).toBeLessThanOrEqual(limitMiB);
    // The audience cache of each thread (~0.55 KB per user at 3 segments) fits that thread's heap.
    expect(Number(env.AUDIENCE_CACHE_USERS) * 0.55e-3).toBeLessThan(heap * 0.7);
  });

  it("Deployment: preStop sleep, then a grace period longer than it plus the bidder's shutdown budget", () => {
    const c = container();
    const cmd: string[] = c.lifecycle.preStop.exec.command;
    expect(cmd[0]).toBe('sleep');
    const preStop = Number(cmd[1]);
    expect(preStop).toBeGreaterThanOrEqual(3);
    const env = one('ConfigMap', 'rtb-bidder-env').data;
    const grace = dep().spec.template.spec.terminationGracePeriodSeconds;
    expect(grace).toBeGreaterThan(preStop + shutdownBudgetMs(env) / 1000);
    // The listener outlives the preStop: the bidder keeps answering (Connection: close) a while after SIGTERM.
    expect(Number(env.SHUTDOWN_DELAY_MS)).toBeGreaterThan(0);
    // The image's STOPSIGNAL is what Kubernetes sends after preStop.
    const runtime = parseDockerfile(read('Dockerfile')).stages.at(-1)!;
    expect(runtime.instructions.find((i) => i.keyword === 'STOPSIGNAL')?.args).toBe('SIGTERM');
  });

  it('Deployment: non-root with the image\'s uid, read-only root, DATA_DIR and /tmp writable, campaigns mounted at CONFIG_DIR', () => {
    const d = dep();
    const pod = d.spec.template.spec;
    const c = container();
    const runtime = parseDockerfile(read('Dockerfile')).stages.at(-1)!;
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)!.args;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`).toBe(user);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const env = one('ConfigMap', 'rtb-bidder-env').data;
    const mounts = Object.fromEntries(c.volumeMounts.map((m: Obj) => [m.mountPath, m]));
    expect(mounts[env.DATA_DIR]).toBeDefined();
    expect(mounts['/tmp']).toBeDefined();
    expect(mounts[env.CONFIG_DIR]).toMatchObject({ readOnly: true });
    const volumes = Object.fromEntries(pod.volumes.map((v: Obj) => [v.name, v]));
    expect(volumes[mounts[env.DATA_DIR].name].emptyDir).toBeDefined();
    expect(volumes[mounts[env.CONFIG_DIR].name].configMap.name).toBe('rtb-bidder-campaigns');
    expect(pod.affinity.podAntiAffinity).toBeDefined();
  });

  it('Services: the bid port and the admin port, selecting the Deployment\'s pods by named ports', () => {
    const labels = dep().spec.template.metadata.labels;
    const portNames = container().ports.map((p: Obj) => p.name);
    const bid = one('Service', 'rtb-bidder');
    const admin = one('Service', 'rtb-bidder-admin');
    for (const svc of [bid, admin]) {
      for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k], k).toBe(v);
      for (const p of svc.spec.ports) expect(portNames).toContain(p.targetPort);
    }
    expect(bid.spec.ports.map((p: Obj) => p.targetPort)).toEqual(['bid']);
    expect(admin.spec.ports.map((p: Obj) => p.targetPort)).toEqual(['admin']);
  });

  it('HPA scales the Deployment on CPU; PDB selects the Deployment\'s pods', () => {
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'rtb-bidder' });
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const pdb = one('PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    const labels = dep().spec.template.metadata.labels;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k], k).toBe(v);
    // With maxUnavailable 1 and minReplicas >= 2 a drain never empties the fleet.
    expect(pdb.spec.maxUnavailable ?? 0).toBeLessThan(hpa.spec.minReplicas);
  });

  it('environment: only variables the bidder reads, from the ConfigMap, the Secret and the Deployment', () => {
    const known = settingsEnvNames();
    const env = one('ConfigMap', 'rtb-bidder-env').data;
    const secret = one('Secret', 'rtb-bidder-secrets').stringData;
    const direct = container().env.map((e: Obj) => e.name);
    for (const name of [...Object.keys(env), ...Object.keys(secret), ...direct]) expect(known.has(name) || NODE_ENV_NAMES.has(name), name).toBe(true);
    expect(Object.keys(secret).sort()).toEqual(['CLICKHOUSE_URL', 'DSP_ADMIN_KEY', 'NOTICE_SIGNING_KEYS', 'REDIS_URL']);
    // Every pod follows one shared configuration: a change through one pod's config API reaches all of them.
    expect(env.CONFIG_STORE).toBe('redis');
    // INSTANCE_ID is left to each process (random, unique per pod): a fixed one would collide.
    expect([...Object.keys(env), ...direct]).not.toContain('INSTANCE_ID');
    const from = container().envFrom.map((e: Obj) => e.configMapRef?.name ?? e.secretRef?.name);
    expect(from).toEqual(['rtb-bidder-env', 'rtb-bidder-secrets']);
    expect(env.PORT).toBe('8080');
    expect(env.ADMIN_PORT).toBe('8081');
  });

  it('the campaign ConfigMap is a configuration the bidder accepts', () => {
    const data: Record<string, string> = one('ConfigMap', 'rtb-bidder-campaigns').data;
    for (const key of Object.keys(data)) expect(key).toMatch(/^[\w.-]+\.(ya?ml|json)$/);
    const bundle = bundleFromTexts(Object.entries(data).map(([name, text]) => ({ name, text })));
    expect(bundle.campaigns?.length).toBeGreaterThan(0);
    expect(bundle.exchanges?.length).toBeGreaterThan(0);
  });
});
