/**
 * images/builds.expected: the plan as it is committed and reviewed, made the
 * one way both `npm run plan:update` and the Nx generators make it.
 */
import type { Matrix } from "../../distros/src";
import { UPSTREAM_REPOSITORIES } from "../../tags/src";
import { makePlan, type Plan, type PlanOptions, type Retirement } from "./plan";
import { printReference } from "./print";

/** Upstream's repositories and pins as commit ids: the committed plan's options. */
export const COMMITTED_PLAN_OPTIONS: PlanOptions = { repositories: UPSTREAM_REPOSITORIES, pins: "commit" };

/** The committed plan; with a retirement (a clock and grace period), deprecated distros past their grace get the deprecation image. */
export const committedPlan = (matrix: Matrix, retirement?: Retirement): Plan =>
  makePlan(matrix, { ...COMMITTED_PLAN_OPTIONS, ...(retirement ? { retirement } : {}) });

/** The text of images/builds.expected for a plan made with COMMITTED_PLAN_OPTIONS. */
export const committedPlanText = (plan: Plan): string => printReference(plan);
