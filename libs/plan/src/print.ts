/**
 * The plan in the upstream pipeline's `--dump` format: a line per section,
 * each build as its label and its Dockerfile indented by a tab, each manifest
 * push as `staging, tags -> public tag`.
 */
import type { Plan } from "./plan";

export function printReference(plan: Plan): string {
  const lines: string[] = [];
  for (const section of plan.sections) {
    lines.push(section.name);
    for (const step of section.steps) {
      if ("build" in step) {
        lines.push(step.build.label);
        for (const line of step.build.dockerfile.split("\n")) lines.push(line === "" ? "" : `\t${line}`);
      } else {
        lines.push(`${step.manifest.sources.join(", ")} -> ${step.manifest.tag}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}
