// What a TypeScript client of the service writes, type-checked against the types that
// openapi-typescript generates from /openapi.json (tests/test_generated_clients.py puts
// them beside this file as heroes-api.ts). Each `@ts-expect-error` must be an error.
import type { components, operations } from "./heroes-api";

type Hero = components["schemas"]["HeroPublic"];
type HeroCreate = components["schemas"]["HeroCreate"];
type HeroUpdate = components["schemas"]["HeroUpdate"];
type ListQuery = NonNullable<operations["list_heroes"]["parameters"]["query"]>;
type PageHeaders = operations["list_heroes"]["responses"][200]["headers"];
type NotModified = operations["read_hero"]["responses"][304];

// An answer always has every field: `age` is there, as a number or null.
export function describe(hero: Hero): string {
    const age: number | null = hero.age;
    return `${hero.id} ${hero.name} ${age === null ? "ageless" : age}`;
}
// @ts-expect-error an answer without `age` is not a hero
export const missingAge: Hero = { id: 1, name: "Deadpond" };

// A request may leave `age` out, and a change may send only it.
export const created: HeroCreate = { name: "Deadpond", secret_name: "Dive Wilson" };
export const changed: HeroUpdate = { age: 29 };

// The list needs no offset: left out, the links carry cursors.
export const firstPage: ListQuery = { limit: 2 };
export const nextPage: ListQuery = { limit: 2, cursor: "from the Link header" };

// The page's headers are declared; a 304 has no body.
export const total: number | undefined = ({} as PageHeaders)["X-Total-Count"];
export const link: string | undefined = ({} as PageHeaders).Link;
export const noBody: NotModified["content"] = undefined;
// @ts-expect-error a 304 carries no JSON
export const someBody: NotModified["content"] = { "application/json": {} };

export async function everyHero(baseUrl: string): Promise<Hero[]> {
    const heroes: Hero[] = [];
    let url: string | null = `${baseUrl}/heroes/`;
    while (url !== null) {
        const answer: Response = await fetch(url);
        heroes.push(...((await answer.json()) as Hero[]));
        const next = /<([^>]*)>; rel="next"/.exec(answer.headers.get("link") ?? "");
        url = next === null ? null : next[1];
    }
    return heroes;
}
