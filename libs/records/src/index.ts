export * from "./layout";
export * from "./records";
export * from "./build-id";
export * from "./rendered";
