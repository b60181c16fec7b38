// Where static data ends: TypeScript's arena starts above this.
export function heapBase(): usize { return __heap_base; }
