/**
 * The chart, proven by the real helm (built from the Go module proxy at $HELM_VERSION into
 * $PEMS_SYNC_CACHE/bin by deploy/local/go-tools.sh, which `stack.sh up` runs): `helm lint` with
 * the default values and with each file in ci/, `helm template` with each, and assertions on the
 * rendered manifests — probes, resources, non-root, read-only root filesystem, no secret in a
 * ConfigMap, sink replicas bounded by the CDC topic's partitions, PDBs, the Debezium
 * registration Job, the PrometheusRule made of the rules file, the NetworkPolicy's egress, the
 * KEDA ScaledObject — and values.schema.json rejecting a wrong type or an unknown key by name.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { SETTINGS } from '../../../schemas/config';

const repo = join(__dirname, '..', '..', '..');
const chart = join(repo, 'deploy/helm/pems-sync');
const helmBin = join(process.env.PEMS_SYNC_CACHE ?? join(homedir(), '.cache/pems-sync'), 'bin/helm');
const ciFiles = readdirSync(join(chart, 'ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

type Manifest = {
  kind: string;
  apiVersion: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
};

function helm(...args: string[]): { status: number | null; output: string; stdout: string } {
  if (!existsSync(helmBin))
    throw new Error(`helm is not at ${helmBin}: run bash deploy/local/go-tools.sh helm (stack.sh up does)`);
  const r = spawnSync(helmBin, args, {
    cwd: repo,
    encoding: 'utf8',
    env: {
      ...process.env,
      HELM_CACHE_HOME: '/tmp/pems-sync-helm-cache',
      HELM_CONFIG_HOME: '/tmp/pems-sync-helm-config',
      HELM_DATA_HOME: '/tmp/pems-sync-helm-data',
    },
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

function render(...args: string[]): Manifest[] {
  return render0(chart, ...args);
}

function render0(source: string, ...args: string[]): Manifest[] {
  const r = helm('template', 'rel', source, ...args);
  if (r.status !== 0) throw new Error(`helm template failed:\n${r.output}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest)
    .filter((m) => m && m.kind);
}

const byKind = (ms: Manifest[], kind: string): Manifest[] => ms.filter((m) => m.kind === kind);
const ciValues = (f: string): Record<string, any> =>
  parse(readFileSync(join(chart, 'ci', f), 'utf8')) as Record<string, any>;

describe('helm chart', () => {
  it('helm lint passes with the default values and with each file in ci/', () => {
    expect(ciFiles.length).toBeGreaterThanOrEqual(2);
    const lint = helm('lint', chart);
    expect(lint.output).toContain('1 chart(s) linted, 0 chart(s) failed');
    for (const f of ciFiles) {
      const r = helm('lint', chart, '-f', join(chart, 'ci', f));
      expect({ f, status: r.status, out: r.output.includes('0 chart(s) failed') }).toEqual({ f, status: 0, out: true });
    }
  });

  it('helm template with the default values asks for the database URL by its key', () => {
    const r = helm('template', 'rel', chart);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('secret.values.PEMS_SYNC_DATABASE_URL (or secret.existingSecret) is required');
  });

  describe.each(ciFiles)('rendered with ci/%s', (file) => {
    const values = ciValues(file);
    const ms = render('-f', join(chart, 'ci', file));
    const workloads = [...byKind(ms, 'Deployment'), ...byKind(ms, 'Job')];

    it('every container has resources, runs as non-root with a read-only root filesystem', () => {
      expect(workloads.length).toBeGreaterThanOrEqual(4);
      for (const w of workloads) {
        const pod = w.spec.template.spec;
        expect({ name: w.metadata.name, nonRoot: pod.securityContext?.runAsNonRoot }).toEqual({
          name: w.metadata.name,
          nonRoot: true,
        });
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          const id = `${w.metadata.name}/${c.name}`;
          expect({
            id,
            ro: c.securityContext?.readOnlyRootFilesystem,
            esc: c.securityContext?.allowPrivilegeEscalation,
          }).toEqual({ id, ro: true, esc: false });
          expect({ id, memLimit: typeof c.resources?.limits?.memory, requests: typeof c.resources?.requests }).toEqual({
            id,
            memLimit: 'string',
            requests: 'object',
          });
        }
      }
    });

    it('every process has liveness and readiness probes on its ops port', () => {
      for (const d of byKind(ms, 'Deployment')) {
        const c = d.spec.template.spec.containers[0];
        expect([d.metadata.name, c.livenessProbe?.httpGet]).toEqual([
          d.metadata.name,
          { path: '/healthz', port: 'ops' },
        ]);
        expect([d.metadata.name, c.readinessProbe?.httpGet]).toEqual([
          d.metadata.name,
          { path: '/readyz', port: 'ops' },
        ]);
      }
    });

    it('no secret value and no secret setting is in a ConfigMap', () => {
      const secretEnv = new Set(
        Object.values(SETTINGS)
          .filter((s: any) => s.secret)
          .map((s: any) => s.env as string),
      );
      const secretValues = Object.values((values.secret?.values ?? {}) as Record<string, string>).filter((v) => v);
      for (const cm of byKind(ms, 'ConfigMap')) {
        for (const [k, v] of Object.entries(cm.data ?? {})) {
          expect({ cm: cm.metadata.name, k, secretKey: secretEnv.has(k) }).toEqual({
            cm: cm.metadata.name,
            k,
            secretKey: false,
          });
          for (const s of secretValues)
            expect({ cm: cm.metadata.name, k, leaks: v.includes(s) }).toEqual({
              cm: cm.metadata.name,
              k,
              leaks: false,
            });
        }
      }
    });

    it('has PDBs for the replicated processes and the Debezium registration Job', () => {
      const pdbs = byKind(ms, 'PodDisruptionBudget').map((p) => p.metadata.name);
      expect(pdbs).toEqual(expect.arrayContaining(['rel-pems-sync-sink', 'rel-pems-sync-control-api']));
      const job = byKind(ms, 'Job').find((j) => j.metadata.name === 'rel-pems-sync-register-connector')!;
      expect(job.metadata.annotations?.['helm.sh/hook']).toBe('post-install,post-upgrade');
      const cmd = job.spec.template.spec.containers[0].command as string[];
      expect(cmd).toEqual(
        expect.arrayContaining([
          'PUT',
          '@/config/connector.json',
          'http://kafka-connect:8083/connectors/pems-sync-pfa-modification/config',
        ]),
      );
      const connector = JSON.parse(
        byKind(ms, 'ConfigMap').find((c) => c.metadata.name === 'rel-pems-sync-debezium-connector')!.data![
          'connector.json'
        ]!,
      );
      expect(connector['message.key.columns']).toBe('public.pfa_modification:organization_id,pfa_id');
      expect(connector['database.password']).toBe('${env:PEMS_SYNC_PG_PASSWORD}');
      // Debezium's declared latency settings (issue 16).
      expect(connector).toMatchObject({
        'poll.interval.ms': '10',
        'max.batch.size': '2048',
        'max.queue.size': '8192',
      });
    });
  });

  it('sink replicas above the CDC topic partitions fail the render with a clear message', () => {
    const r = helm('template', 'rel', chart, '-f', join(chart, 'ci/test-values.yaml'), '--set', 'sink.replicaCount=7');
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('sink.replicaCount (7) is above cdcTopic.partitions (6)');
    expect(render('-f', join(chart, 'ci/test-values.yaml'), '--set', 'sink.replicaCount=6')).toBeDefined();
    const keda = helm(
      'template',
      'rel',
      chart,
      '-f',
      join(chart, 'ci/monitoring-values.yaml'),
      '--set',
      'sink.autoscaling.maxReplicas=12',
    );
    expect(keda.output).toContain('sink.autoscaling.maxReplicas (12) is above cdcTopic.partitions (6)');
  });

  it('values.schema.json: a wrong type or an unknown key fails helm lint naming the key', () => {
    const wrongType = helm('lint', chart, '-f', join(chart, 'ci/test-values.yaml'), '--set', 'sink.replicaCount=two');
    expect(wrongType.status).not.toBe(0);
    expect(wrongType.output).toMatch(/sink\/replicaCount'?: got string, want integer|sink\.replicaCount: Invalid type/);
    const typo = helm('lint', chart, '-f', join(chart, 'ci/test-values.yaml'), '--set', 'sink.replicaCont=2');
    expect(typo.status).not.toBe(0);
    expect(typo.output).toContain("additional properties 'replicaCont' not allowed");
    const badPort = helm('lint', chart, '-f', join(chart, 'ci/test-values.yaml'), '--set', 'ports.ops=70000');
    expect(badPort.status).not.toBe(0);
    expect(badPort.output).toContain('ports/ops');
  });

  describe('the optional parts (ci/monitoring-values.yaml)', () => {
    const ms = render('-f', join(chart, 'ci/monitoring-values.yaml'));

    it('renders the PrometheusRule from the rules file itself, runbook links set to the README URL', () => {
      const [rule] = byKind(ms, 'PrometheusRule');
      const file = readFileSync(join(chart, 'files/pems-sync.rules.yml'), 'utf8').replaceAll(
        '{{ $externalLabels.runbook_base }}',
        'https://git.example.com/pems-sync/blob/main/README.md',
      );
      expect(rule!.spec.groups).toEqual((parse(file) as { groups: unknown }).groups);
      expect(JSON.stringify(rule!.spec.groups)).toContain(
        'https://git.example.com/pems-sync/blob/main/README.md#runbook-pemsunreachable',
      );
      expect((rule!.metadata as any).labels.release).toBe('kube-prometheus-stack');
    });

    it('renders the Alertmanager config example: critical to email and Slack, warning to Slack, per organization', () => {
      const [am] = byKind(ms, 'AlertmanagerConfig');
      expect(am!.spec.route.groupBy).toEqual(['organization']);
      const receivers = Object.fromEntries((am!.spec.receivers as any[]).map((r) => [r.name, r]));
      expect(receivers['email-and-slack'].emailConfigs[0].to).toBe('pems-sync-oncall@example.com');
      expect(receivers['email-and-slack'].slackConfigs[0].sendResolved).toBe(true);
      expect(receivers.slack.emailConfigs).toBeUndefined();
      expect(am!.spec.inhibitRules[0].equal).toEqual(['organization']);
    });

    it('limits egress to DNS, Kafka, Postgres, Redis, the registry and the PEMS hosts', () => {
      const np = byKind(ms, 'NetworkPolicy').find((n) => n.metadata.name === 'rel-pems-sync')!;
      expect(np.spec.policyTypes).toEqual(['Egress']);
      const ports = (np.spec.egress as any[]).map((e) => e.ports.map((p: any) => `${p.port}/${p.protocol}`).join(','));
      expect(ports).toEqual(['53/UDP,53/TCP', '9092/TCP', '5432/TCP', '6379/TCP', '8080/TCP', '443/TCP']);
      expect((np.spec.egress as any[])[5].to).toEqual([
        { ipBlock: { cidr: '203.0.113.10/32' } },
        { ipBlock: { cidr: '198.51.100.0/28' } },
      ]);
      const job = byKind(ms, 'NetworkPolicy').find((n) => n.metadata.name === 'rel-pems-sync-register-connector')!;
      expect((job.spec.egress as any[]).map((e) => e.ports[0].port)).toEqual([53, 8083]);
      const noPems = helm(
        'template',
        'rel',
        chart,
        '-f',
        join(chart, 'ci/monitoring-values.yaml'),
        '--set',
        'networkPolicy.pems.cidrs=null',
      );
      expect(noPems.output).toContain('networkPolicy.pems.cidrs is empty');
    });

    it('scales the sink with KEDA on the consumer lag, within the partitions, and leaves replicas to it', () => {
      const [so] = byKind(ms, 'ScaledObject');
      expect(so!.spec.maxReplicaCount).toBe(6);
      expect(so!.spec.triggers[0].metadata).toMatchObject({
        consumerGroup: 'pems-sync-sink',
        topic: 'vanguard.public.pfa_modification',
        allowIdleConsumers: 'false',
      });
      const sink = byKind(ms, 'Deployment').find((d) => d.metadata.name === 'rel-pems-sync-sink')!;
      expect(sink.spec.replicas).toBeUndefined();
      expect(byKind(ms, 'Secret')).toEqual([]);
    });

    it('ServiceMonitor gives targets the component label the alert rules use', () => {
      const [sm] = byKind(ms, 'ServiceMonitor');
      expect(sm!.spec.endpoints[0].relabelings).toEqual([
        { sourceLabels: ['__meta_kubernetes_service_label_app_kubernetes_io_component'], targetLabel: 'component' },
      ]);
    });
  });

  it('helm package carries the rules file: the packaged chart renders the same PrometheusRule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pems-sync-helm-'));
    const pkg = helm('package', chart, '--destination', dir);
    expect(pkg.status).toBe(0);
    const tgz = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.tgz'))!,
    );
    const fromPackage = byKind(render0(tgz, '-f', join(chart, 'ci/monitoring-values.yaml')), 'PrometheusRule');
    const fromDir = byKind(render('-f', join(chart, 'ci/monitoring-values.yaml')), 'PrometheusRule');
    expect(fromPackage).toEqual(fromDir);
    expect(fromPackage[0]!.spec.groups.length).toBe(3);
  });

  it("the Kafka UI example points at the chart's Kafka, registry (Avro on the result topic) and Connect", () => {
    const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, any>;
    const ui = parse(readFileSync(join(chart, 'examples/kafka-ui-values.yaml'), 'utf8')) as Record<string, any>;
    const cluster = ui.yamlApplicationConfig.kafka.clusters[0];
    expect(cluster.bootstrapServers).toBe(values.config.PEMS_SYNC_KAFKA_BROKERS);
    expect(cluster.schemaRegistry).toBe(values.config.PEMS_SYNC_SCHEMA_REGISTRY_URL);
    expect(cluster.kafkaConnect[0].address).toBe(values.debezium.connectUrl);
    expect(new RegExp(`^${cluster.serde[0].topicValuesPattern}$`).test(values.config.PEMS_SYNC_RESULT_TOPIC)).toBe(
      true,
    );
  });
});
