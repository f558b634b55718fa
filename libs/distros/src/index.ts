export * from "./model";
export { linuxOpamImage, compilerDepexts } from "./linux";
export { windowsOpamImage } from "./windows";
export { compilerImage, archiveImage } from "./compiler";
export { deprecationImage, DEPRECATION_MESSAGE } from "./deprecated";
