export * from "./model";
export * from "./build";
export { printDockerfile, quote, escapeCharOf } from "./print";
