export * from "./plan";
export { buildLabel, printReference, referenceSections, type Section, type Step } from "./print";
export { printSummary, printSummaryDiff } from "./summary";
export { COMMITTED_PLAN_OPTIONS, committedPlan, committedPlanText } from "./committed";
export { describeTags, type DescribeFacts } from "./describe";
export { imageAbout, type ImageAbout } from "./about";
