// graphile-worker side of bench/jobs.sh: bulk-enqueue N no-op jobs with addJobs (one call), then
// drain them with one runner at `concurrency: 8`, timing both phases in-process. Prints one JSON
// line. Usage: node jobs_graphile.cjs DATABASE_URL JOBS WORKERS default|tuned
// default = graphile-worker's defaults; tuned = localQueue (size 500) + completeJobBatchDelay 0.
"use strict";
const { run, runMigrations, makeWorkerUtils } = require("graphile-worker");

async function main() {
  const [connectionString, jobsArg, workersArg, mode] = process.argv.slice(2);
  const jobs = Number(jobsArg);
  const concurrency = Number(workersArg);
  const logger = new (require("graphile-worker").Logger)(() => () => {});
  await runMigrations({ connectionString, logger });
  const utils = await makeWorkerUtils({ connectionString, logger });
  const specs = Array.from({ length: jobs }, (_, i) => ({ identifier: "noop", payload: { i } }));
  let t0 = process.hrtime.bigint();
  await utils.addJobs(specs);
  const enqueueS = Number(process.hrtime.bigint() - t0) / 1e9;
  await utils.release();

  const preset =
    mode === "tuned" ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } } : undefined;
  let done = 0;
  let finished;
  const allDone = new Promise((resolve) => (finished = resolve));
  t0 = process.hrtime.bigint();
  const runner = await run({
    connectionString,
    concurrency,
    noHandleSignals: true,
    pollInterval: 2000,
    logger,
    preset,
    taskList: { noop: async () => {} },
  });
  runner.events.on("job:success", () => {
    done += 1;
    if (done === jobs) finished(process.hrtime.bigint());
  });
  const t1 = await allDone;
  const drainS = Number(t1 - t0) / 1e9;
  await runner.stop();
  console.log(JSON.stringify({ side: `graphile-worker ${mode}`, jobs, workers: concurrency, enqueue_s: enqueueS, drain_s: drainS }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
