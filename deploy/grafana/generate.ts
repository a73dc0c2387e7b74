// Writes deploy/grafana/bonsai.json from the panel list of daemon/report/panels.ts:
//   npx tsx deploy/grafana/generate.ts
import { writeFileSync } from 'node:fs';
import { grafanaDashboardText } from '../../daemon/report/grafana.ts';

const target = new URL('./bonsai.json', import.meta.url);
writeFileSync(target, grafanaDashboardText());
console.log(`wrote ${target.pathname}`);
