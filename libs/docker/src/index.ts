export * from "./runner";
export * from "./reference";
export * from "./registry";
export * from "./credentials";
export * from "./buildx";
export * from "./git-cache";
export * from "./builder";
export * from "./classic";
