export * from "./plan";
export { buildLabel, printReference, referenceSections, type Section, type Step } from "./print";
export { printSummary } from "./summary";
export { describeTags, type DescribeFacts } from "./describe";
