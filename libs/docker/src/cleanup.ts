/**
 * What this process must undo however it ends: secret folders, scratch folders,
 * held locks. Each is undone by its owner when done; what is left is undone at
 * exit and on every catchable signal that ends a run (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT), before the signal takes its course. Only a SIGKILL leaves anything,
 * and that the next run sweeps (owned-dirs.ts, machine-lock.ts).
 */
const pending = new Set<() => void>();
let installed = false;

export const ENDING_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

function runAll(): void {
  for (const undo of [...pending]) {
    pending.delete(undo);
    try {
      undo();
    } catch {
      // Best effort: one failure must not keep the others from running.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  // Anyone else listening (Nx's own handlers) decides what happens next; alone, we end as the signal would have.
  if (process.listenerCount(signal) > 1) return;
  for (const s of ENDING_SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, signal);
}

/** Registers `undo` to run at exit or on an ending signal, unless the returned function is called first (the owner undid it). */
export function undoOnExit(undo: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once("exit", runAll);
    for (const signal of ENDING_SIGNALS) process.on(signal, onSignal);
  }
  pending.add(undo);
  return () => {
    pending.delete(undo);
  };
}
