export * from "./plan";
export { printReference } from "./print";
export { printSummary } from "./summary";
