export * from "./schema";
export * from "./load";
export * from "./layout";
export * from "./suggest";
