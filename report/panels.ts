/**
 * The panels of bonsai's dashboard, defined once: `grafana.ts` turns them into
 * deploy/grafana/bonsai.json and `bonsai report` renders them as a PNG page,
 * from Prometheus or from the registry history. Every query uses the metric
 * names of docs/metrics.md; a test runs each against a real Prometheus.
 *
 * Queries may use Grafana's variables: `$job` and `$instance` (regexes chosen
 * in the dashboard; the report passes its own) and `$__rate_interval`.
 */

/** How a panel shows its series. */
export type PanelKind =
  /** Lines over time. */
  | 'timeseries'
  /** Bars over time (one bar per interval, stacked by series): costs that come in bursts. */
  | 'bars-over-time'
  /** One bar per series, the latest value (e.g. density per layer). */
  | 'bars'
  /** The latest series names and values as text (versions, build). */
  | 'stat';

/** Units, as Grafana names them. */
export type PanelUnit = 'percentunit' | 'short' | 'bytes' | 's' | 'reqps' | 'none';

/** What the registry history (models/<N>/manifest.json, models/history.jsonl) can fill a panel with. */
export type HistorySource =
  /** manifest.metrics keys that contain "accuracy", per version. */
  | 'accuracy'
  /** manifest.metrics keys that contain "error" or "wer", per version. */
  | 'error'
  /** Sum of live and total parameters over layers, per version. */
  | 'parameters'
  /** live / total per layer of the champion (else the newest version). */
  | 'density'
  /** The champion's version (models/CURRENT) and when it became champion. */
  | 'champion'
  /** Champion changes over time: promotions and rollbacks. */
  | 'champion-changes'
  /** Publications, promotions and rejections over time. */
  | 'updates'
  /** cost.sampleEpochs and cost.epochs per version. */
  | 'sample-epochs'
  /** cost.flops per version. */
  | 'flops'
  /** manifest.timings per phase, per version. */
  | 'phase-times'
  /** samplesSeen per version. */
  | 'samples-seen'
  /** The backend that trained each version. */
  | 'backend';

/** One query of a panel. */
export interface PanelTarget {
  /** PromQL; may use `$job`, `$instance`, `$__rate_interval`. */
  expr: string;
  /** Series name; Grafana's `{{label}}` syntax. */
  legend: string;
  /** Grafana `refId`. */
  refId: string;
}

/** One panel. */
export interface PanelDef {
  /** Stable id (Grafana panel id). */
  id: number;
  title: string;
  /** Shown as the panel's tooltip in Grafana and under the title in the report. */
  description: string;
  kind: PanelKind;
  unit: PanelUnit;
  targets: PanelTarget[];
  /** Width in Grafana's 24-column grid (12 = half). */
  width: number;
  /** For `stat`: show series names, values, or both. */
  statText?: 'name' | 'value' | 'name_and_value';
  /** Where `bonsai report` without Prometheus gets this panel's data; absent: only Prometheus has it. */
  history?: HistorySource;
  /** Threshold lines (e.g. drift's PSI 0.1 and 0.25). */
  thresholds?: number[];
}

/** A row of panels. */
export interface RowDef {
  title: string;
  panels: PanelDef[];
}

/** Label matchers every query carries. */
const SEL = 'job=~"$job",instance=~"$instance"';

/** `name{job=~"$job",instance=~"$instance",extra}` */
function m(name: string, extra = ''): string {
  return `${name}{${SEL}${extra === '' ? '' : `,${extra}`}}`;
}

function t(expr: string, legend: string, refId = 'A'): PanelTarget {
  return { expr, legend, refId };
}

/** Every row and panel, in dashboard order. */
export const ROWS: readonly RowDef[] = [
  {
    title: 'Quality',
    panels: [
      {
        id: 1,
        title: 'Held-out accuracy by version',
        description: 'Accuracy of the champion on the validation and test splits, measured by the gate; the legend names the version. Candidates show what the last update trained.',
        kind: 'timeseries',
        unit: 'percentunit',
        width: 8,
        history: 'accuracy',
        targets: [
          t(`${m('bonsai_eval_accuracy_ratio', 'role="champion"')} * on (job, instance) group_left (version) ${m('bonsai_model_info', 'role="champion"')}`, 'v{{version}} {{dataset}}', 'A'),
          t(m('bonsai_eval_accuracy_ratio', 'role="candidate"'), 'candidate {{dataset}}', 'B'),
        ],
      },
      {
        id: 2,
        title: 'Prequential accuracy',
        description: 'Accuracy of the live model on new labelled samples, each scored before it joins training (test-then-train, Gama et al. 2013), over a sliding window.',
        kind: 'timeseries',
        unit: 'percentunit',
        width: 8,
        targets: [t(m('bonsai_prequential_accuracy_ratio'), '{{instance}}')],
      },
      {
        id: 3,
        title: 'Error rate by version',
        description: 'Error rate (1 - accuracy), or word error rate of speech models, of the champion at the gate; the legend names the version.',
        kind: 'timeseries',
        unit: 'percentunit',
        width: 8,
        history: 'error',
        targets: [t(`${m('bonsai_eval_error_ratio', 'role="champion"')} * on (job, instance) group_left (version) ${m('bonsai_model_info', 'role="champion"')}`, 'v{{version}} {{dataset}}')],
      },
    ],
  },
  {
    title: 'Model',
    panels: [
      {
        id: 4,
        title: 'Live parameters',
        description: 'Live connections (mask 1, biases included) of the served and champion models, against the same network without pruning.',
        kind: 'timeseries',
        unit: 'short',
        width: 8,
        history: 'parameters',
        targets: [t(`max by (role, kind) (${m('bonsai_model_parameters', 'role=~"serving|champion"')})`, '{{role}} {{kind}}')],
      },
      {
        id: 5,
        title: 'Density per layer',
        description: 'Fraction of each layer\'s connections that are live in the champion, after growth and pruning.',
        kind: 'bars',
        unit: 'percentunit',
        width: 8,
        history: 'density',
        targets: [t(`max by (layer) (${m('bonsai_model_density_ratio', 'role="champion"')})`, '{{layer}}')],
      },
      {
        id: 6,
        title: 'Versions',
        description: 'The version holding each role (serving, champion, candidate) and how many processes serve each version (a rollout in progress shows two).',
        kind: 'stat',
        unit: 'none',
        width: 4,
        statText: 'name_and_value',
        history: 'champion',
        targets: [
          t(`count by (role, version) (${m('bonsai_model_info')})`, '{{role}} v{{version}}'),
        ],
      },
      {
        id: 7,
        title: 'Swaps',
        description: 'Hot swaps of the served model; failed means load, validation or warm-up failed and the old model kept serving.',
        kind: 'bars-over-time',
        unit: 'short',
        width: 4,
        history: 'champion-changes',
        targets: [
          t(`sum by (outcome) (increase(${m('bonsai_model_swaps_total')}[$__rate_interval]))`, '{{outcome}}'),
          t(`sum by (use) (increase(${m('bonsai_champion_fallbacks_total')}[$__rate_interval]))`, 'champion fallback ({{use}})', 'B'),
        ],
      },
    ],
  },
  {
    title: 'Training',
    panels: [
      {
        id: 8,
        title: 'Updates by outcome',
        description: 'Finished updates (training runs): promoted, rejected by the gate, failed, aborted.',
        kind: 'bars-over-time',
        unit: 'short',
        width: 6,
        history: 'updates',
        targets: [t(`sum by (outcome) (increase(${m('bonsai_updates_total')}[$__rate_interval]))`, '{{outcome}}')],
      },
      {
        id: 9,
        title: 'Training cost (sample-epochs)',
        description: 'Samples seen by training per phase, growth-gradient passes included; divided by the size of all data it is the paper\'s epochs-equivalent. Validation passes (forward only, a third of a training pass each) are shown beside them.',
        kind: 'bars-over-time',
        unit: 'short',
        width: 6,
        history: 'sample-epochs',
        targets: [
          t(`sum by (phase) (increase(${m('bonsai_training_sample_epochs_total')}[$__rate_interval]))`, '{{phase}}'),
          t(`sum by (phase) (increase(${m('bonsai_training_eval_samples_total')}[$__rate_interval]))`, 'validation {{phase}}', 'B'),
        ],
      },
      {
        id: 10,
        title: 'Training FLOPs',
        description: 'Floating-point operations spent on training, estimated from the live connections of each pass.',
        kind: 'bars-over-time',
        unit: 'short',
        width: 6,
        history: 'flops',
        targets: [
          t(`sum(increase(${m('bonsai_training_flops_total')}[$__rate_interval]))`, 'FLOPs'),
          t(`sum(increase(${m('bonsai_training_eval_flops_total')}[$__rate_interval]))`, 'validation FLOPs', 'B'),
          t(`max(${m('bonsai_validation_samples')})`, 'validation samples', 'C'),
          t(`min(${m('bonsai_validation_adequate')})`, 'validation adequate (1/0)', 'D'),
        ],
      },
      {
        id: 11,
        title: 'Update time by phase',
        description: 'Wall seconds spent in each phase of updates (growth on new data, growth on all data, training, pruning, evaluation).',
        kind: 'bars-over-time',
        unit: 's',
        width: 6,
        history: 'phase-times',
        targets: [t(`sum by (phase) (increase(${m('bonsai_update_duration_seconds_sum', 'phase!="total"')}[$__rate_interval]))`, '{{phase}}')],
      },
    ],
  },
  {
    title: 'Data and drift',
    panels: [
      {
        id: 12,
        title: 'Ingestion rate',
        description: 'Files taken from the inbox per second, by outcome: accepted, duplicate (same content and label), relabeled (same content under another label: the stored sample took it), rejected (moved to quarantine/).',
        kind: 'timeseries',
        unit: 'reqps',
        width: 6,
        targets: [t(`sum by (outcome) (rate(${m('bonsai_ingest_files_total')}[$__rate_interval]))`, '{{outcome}}')],
      },
      {
        id: 13,
        title: 'Quarantine rate',
        description: 'Files quarantined per second by modality, the share of incoming files quarantined, inbox entries stuck in the last hour (neither ingested nor movable; see the ingest.stuck log lines), and the state directory\'s disk: 1 while it is full (files wait in the inbox; see the storage.full log line) and operations that failed for lack of space in the last hour.',
        kind: 'timeseries',
        unit: 'short',
        width: 6,
        targets: [
          t(`sum by (modality) (rate(${m('bonsai_ingest_files_total', 'outcome="rejected"')}[$__rate_interval]))`, '{{modality}} per second', 'A'),
          t(`sum(rate(${m('bonsai_ingest_files_total', 'outcome="rejected"')}[$__rate_interval])) / sum(rate(${m('bonsai_ingest_files_total')}[$__rate_interval]))`, 'share quarantined', 'B'),
          t(`sum(increase(${m('bonsai_ingest_stuck_files_total')}[1h]))`, 'stuck in the last hour', 'C'),
          t(`max(${m('bonsai_storage_full')})`, 'disk full (1)', 'D'),
          t(`sum(increase(${m('bonsai_storage_full_errors_total')}[1h]))`, 'failed for lack of space in the last hour', 'E'),
        ],
      },
      {
        id: 14,
        title: 'Pending and stored samples',
        description: 'Samples waiting for the next update (it starts at the threshold) and samples in the store by split.',
        kind: 'timeseries',
        unit: 'short',
        width: 6,
        history: 'samples-seen',
        targets: [
          t(`sum(${m('bonsai_pending_samples')})`, 'pending', 'A'),
          t(`sum by (split) (${m('bonsai_store_samples')})`, '{{split}}', 'B'),
        ],
      },
      {
        id: 15,
        title: 'Drift',
        description: 'Distance of recent served inputs and predictions from the training data of the served model: PSI (< 0.1 stable, > 0.25 major shift) and Jensen-Shannon divergence.',
        kind: 'timeseries',
        unit: 'short',
        width: 6,
        thresholds: [0.1, 0.25],
        targets: [t(`max by (method, scope) (${m('bonsai_drift_score')})`, '{{method}} {{scope}}')],
      },
      {
        id: 16,
        title: 'Predicted class shares',
        description: 'Share of each class among recent predictions; compare with the training label distribution.',
        kind: 'timeseries',
        unit: 'percentunit',
        width: 6,
        targets: [t(`avg by (class) (${m('bonsai_prediction_class_ratio')})`, '{{class}}')],
      },
    ],
  },
  {
    title: 'Serving',
    panels: [
      {
        id: 17,
        title: 'Predict rate',
        description: 'Requests to POST /v1/predict per second, by HTTP status code.',
        kind: 'timeseries',
        unit: 'reqps',
        width: 6,
        targets: [t(`sum by (code) (rate(${m('bonsai_predict_requests_total')}[$__rate_interval]))`, '{{code}}')],
      },
      {
        id: 18,
        title: 'Predict latency',
        description: 'Quantiles of the time to answer POST /v1/predict (body parsing, decoding, inference).',
        kind: 'timeseries',
        unit: 's',
        width: 6,
        targets: [
          t(`histogram_quantile(0.5, sum by (le) (rate(${m('bonsai_predict_duration_seconds_bucket')}[$__rate_interval])))`, 'p50', 'A'),
          t(`histogram_quantile(0.9, sum by (le) (rate(${m('bonsai_predict_duration_seconds_bucket')}[$__rate_interval])))`, 'p90', 'B'),
          t(`histogram_quantile(0.99, sum by (le) (rate(${m('bonsai_predict_duration_seconds_bucket')}[$__rate_interval])))`, 'p99', 'C'),
        ],
      },
      {
        id: 19,
        title: 'Tensors',
        description: 'Tensors allocated by tfjs; a count that keeps rising between updates is a leak.',
        kind: 'timeseries',
        unit: 'short',
        width: 4,
        targets: [t(m('bonsai_tf_tensors'), '{{instance}}')],
      },
      {
        id: 20,
        title: 'Memory',
        description: 'Bytes held by tfjs tensors, the resident memory of each process, and the request bodies in flight (capped by server.maxInflightBodyBytes; at the cap, requests are answered 503 BONSAI_HTTP_BUSY).',
        kind: 'timeseries',
        unit: 'bytes',
        width: 4,
        targets: [
          t(m('bonsai_tf_memory_bytes'), 'tensors {{instance}}', 'A'),
          t(m('process_resident_memory_bytes'), 'resident {{instance}}', 'B'),
          t(m('bonsai_http_inflight_body_bytes'), 'request bodies {{instance}}', 'C'),
        ],
      },
      {
        id: 21,
        title: 'Build',
        description: 'bonsai, Node.js and tfjs versions and the compute backend of each process.',
        kind: 'stat',
        unit: 'none',
        width: 4,
        statText: 'name',
        history: 'backend',
        targets: [t(`count by (version, node_version, tfjs_version, backend) (${m('bonsai_build_info')})`, 'bonsai {{version}}, {{backend}}, node {{node_version}}, tfjs {{tfjs_version}}')],
      },
    ],
  },
];

/** Every panel, in order. */
export function allPanels(): PanelDef[] {
  return ROWS.flatMap((r) => r.panels);
}

/** Dashboard annotations: promotions and rollbacks (a change of the champion). */
export const ANNOTATIONS: readonly { name: string; expr: string; color: string }[] = [
  {
    name: 'Promotions',
    expr: `sum(increase(bonsai_updates_total{job=~"$job",outcome="promoted"}[$__rate_interval])) > 0`,
    color: 'green',
  },
  {
    name: 'Failed swaps',
    expr: `sum(increase(bonsai_model_swaps_total{job=~"$job",outcome="failed"}[$__rate_interval])) > 0`,
    color: 'red',
  },
];

/** Renders a Grafana legend format (`{{label}}`) with a series' labels. */
export function formatLegend(legend: string, labels: Readonly<Record<string, string>>): string {
  return legend.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, name: string) => labels[name] ?? '');
}
