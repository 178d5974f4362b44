/** Every page of the console, by URL pattern (first match wins). */
import type { Route } from "./main";

export const routes: Route[] = [];
