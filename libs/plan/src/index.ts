export * from "./plan";
export { printReference } from "./print";
