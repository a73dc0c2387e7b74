/**
 * Files of deploy/ derived from others, as text: written by generate.ts and
 * compared with the committed files by test/deploy.
 */
import { parse, stringify } from 'yaml';

export { grafanaDashboardText } from '../report/grafana.ts';

/** The Prometheus Operator's PrometheusRule holding the groups of prometheus/rules.yml. */
export function prometheusRuleText(rulesYaml: string): string {
  const { groups } = parse(rulesYaml) as { groups: unknown[] };
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'bonsai', labels: { 'app.kubernetes.io/name': 'bonsai' } },
    spec: { groups },
  };
  const header = [
    '# Generated from deploy/prometheus/rules.yml by `npx tsx deploy/generate.ts`: edit',
    '# that file, not this one. Prometheus selects PrometheusRules by label, like',
    '# ServiceMonitors (see servicemonitor.yaml and deploy/README.md).',
  ].join('\n');
  return `${header}\n${stringify(rule, { lineWidth: 0 })}`;
}
