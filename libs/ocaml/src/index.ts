export * from "./version";
export * from "./options";
export * from "./range";
export * from "./releases";
export * from "./arch";
