export * from "./records";
export * from "./schema";
export * from "./model";
export * from "./page";
export * from "./metrics";
export * from "./service";
