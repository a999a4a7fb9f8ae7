/**
 * deploy/k8s: every manifest parses, and the fields that make a rollout safe are there and agree with
 * each other and with the bidder: probes on the admin port's /readyz and /healthz, resources, a grace
 * period longer than preStop plus the bidder's own shutdown limit, a non-root read-only container whose
 * uid is the image's, the event spool on a persistent volume per pod (StatefulSet), PDB and HPA aimed at
 * the StatefulSet, the admin port on no Service exchanges reach and behind a NetworkPolicy, only
 * environment variables the bidder reads, and a campaign ConfigMap the bidder's own loader accepts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { bundleFromTexts } from '../../src/campaigns/load-bundle.js';
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
      expect.arrayContaining(['configmap-campaigns.yaml', 'configmap-env.yaml', 'statefulset.yaml', 'hpa.yaml', 'pdb.yaml', 'secret.example.yaml', 'service.yaml', 'networkpolicy.yaml']),
    );
    for (const { file, doc } of docs) {
      if (doc.kind === 'Kustomization') continue;
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
      expect(doc.metadata?.name, file).toBeTruthy();
    }
    expect(ofKind('Service')).toHaveLength(3);
    expect(ofKind('Deployment')).toHaveLength(0);
  });

  it('kustomization lists every manifest but the Secret template', () => {
    const k = one('Kustomization');
    const expected = files.filter((f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml').sort();
    expect([...k.resources].sort()).toEqual(expected);
  });

  const dep = () => one('StatefulSet', 'rtb-bidder');
  const container = () => dep().spec.template.spec.containers[0];

  it('StatefulSet: selector matches the pod labels; readiness on /readyz, liveness and startup on /healthz, on the admin port', () => {
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

  it("StatefulSet: a CPU per bid thread requested, memory limited, every thread's heap capped within the limit", () => {
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

  it("StatefulSet: preStop sleep, then a grace period longer than it plus the bidder's shutdown budget", () => {
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

  it('StatefulSet: non-root with the image\'s uid, read-only root, DATA_DIR on a persistent volume per pod, /tmp writable, campaigns mounted at CONFIG_DIR', () => {
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
    // DATA_DIR (the event spool) is a claim of its own per pod, kept across pod deletion: not a pod volume.
    expect(volumes[mounts[env.DATA_DIR].name]).toBeUndefined();
    const claim = d.spec.volumeClaimTemplates.find((t: Obj) => t.metadata.name === mounts[env.DATA_DIR].name);
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(claim.spec.resources.requests.storage).toMatch(/^\d+Gi$/);
    // Kubernetes' default retention (Retain) keeps the claim when a pod is deleted or the set scaled in.
    expect(d.spec.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? 'Retain').toBe('Retain');
    expect(d.spec.persistentVolumeClaimRetentionPolicy?.whenScaled ?? 'Retain').toBe('Retain');
    // The volume is writable by the bidder's group.
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup);
    expect(Object.values(volumes).some((v: Obj) => v.emptyDir && v.emptyDir.medium !== 'Memory')).toBe(false);
    expect(volumes[mounts[env.CONFIG_DIR].name].configMap.name).toBe('rtb-bidder-campaigns');
    expect(pod.affinity.podAntiAffinity).toBeDefined();
  });

  it('StatefulSet: a headless governing Service, parallel pod management, one-at-a-time rolling updates', () => {
    const d = dep();
    const governing = one('Service', d.spec.serviceName);
    expect(governing.spec.clusterIP).toBe('None');
    expect(d.spec.podManagementPolicy).toBe('Parallel');
    expect(d.spec.updateStrategy.type).toBe('RollingUpdate');
    // Fields of a Deployment that a StatefulSet refuses.
    expect(d.spec.strategy).toBeUndefined();
    expect(Object.keys(d.spec).sort()).toEqual(
      expect.arrayContaining(['replicas', 'selector', 'serviceName', 'template', 'volumeClaimTemplates']),
    );
    const allowed = ['replicas', 'revisionHistoryLimit', 'selector', 'serviceName', 'podManagementPolicy', 'updateStrategy', 'minReadySeconds', 'template', 'volumeClaimTemplates', 'persistentVolumeClaimRetentionPolicy', 'ordinals'];
    for (const k of Object.keys(d.spec)) expect(allowed, k).toContain(k);
  });

  it('Services: the bid port and the admin port, selecting the StatefulSet\'s pods by named ports', () => {
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

  it('the admin port is on no Service exchanges reach, and a NetworkPolicy admits only named clients to it', () => {
    // Exchanges reach the bid Service; it carries the bid port alone, by name and by number.
    const bid = one('Service', 'rtb-bidder');
    expect(bid.spec.ports.map((p: Obj) => [p.targetPort, p.port])).toEqual([['bid', 8080]]);
    expect(bid.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    for (const svc of ofKind('Service'))
      if (svc.spec.ports.some((p: Obj) => p.targetPort === 'admin' || p.targetPort === 8081)) {
        expect(svc.metadata.name).not.toBe('rtb-bidder');
        expect(svc.spec.type ?? 'ClusterIP', svc.metadata.name).toBe('ClusterIP');
      }
    const np = one('NetworkPolicy', 'rtb-bidder');
    expect(np.apiVersion).toBe('networking.k8s.io/v1');
    const labels = dep().spec.template.metadata.labels;
    for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) expect(labels[k], k).toBe(v);
    expect(np.spec.policyTypes).toContain('Ingress');
    const rules: Obj[] = np.spec.ingress;
    const portsOf = (r: Obj) => r.ports.map((p: Obj) => p.port);
    // Every rule names its ports (none opens everything), and only the bid port is open to any source.
    for (const r of rules) expect(r.ports?.length, JSON.stringify(r)).toBeGreaterThan(0);
    const open = rules.filter((r) => !r.from || r.from.length === 0);
    expect(open.flatMap(portsOf)).toEqual(['bid']);
    const admin = rules.filter((r) => portsOf(r).includes('admin'));
    expect(admin.length).toBeGreaterThan(0);
    for (const r of admin) {
      expect(r.from.length).toBeGreaterThan(0);
      // Every source is narrowed by a label: no empty selector (which would mean every pod or namespace).
      for (const f of r.from) {
        const selectors = [f.podSelector, f.namespaceSelector].filter(Boolean);
        expect(selectors.length, JSON.stringify(f)).toBeGreaterThan(0);
        for (const sel of selectors) expect(Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions?.length ?? 0), JSON.stringify(f)).toBeGreaterThan(0);
      }
    }
    // Prometheus scrapes the admin port: the pod annotations and the policy agree on it.
    const annotations = dep().spec.template.metadata.annotations;
    expect(annotations['prometheus.io/port']).toBe('8081');
  });

  it('HPA scales the StatefulSet on CPU; PDB selects its pods', () => {
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'rtb-bidder' });
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const pdb = one('PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    const labels = dep().spec.template.metadata.labels;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k], k).toBe(v);
    // With maxUnavailable 1 and minReplicas >= 2 a drain never empties the fleet.
    expect(pdb.spec.maxUnavailable ?? 0).toBeLessThan(hpa.spec.minReplicas);
  });

  it('environment: only variables the bidder reads, from the ConfigMap, the Secret and the StatefulSet', () => {
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
