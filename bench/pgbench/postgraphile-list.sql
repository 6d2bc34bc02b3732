-- PostGraphile 5's one statement for the same page (bench/peers, its
-- queries/postgraphile-list.json), as its PostgreSQL log shows it, with its
-- one parameter as :ws: the database ceiling our own statement is held to.
select
	__mini_programs__."id" as "0",
	__mini_programs__."name" as "1",
	__mini_programs__."program_type" as "2",
	__mini_programs__."channel" as "3",
	__mini_programs__."update_mode" as "4",
	array(select array[
	__mini_program_versions__."id",
	__mini_program_versions__."major"::text,
	__mini_program_versions__."minor"::text,
	__mini_program_versions__."patch"::text,
	__mini_program_versions__."status",
	__mini_program_versions__."update_mode"
	]::text[]
	from "public"."mini_program_versions" as __mini_program_versions__
	where (__mini_program_versions__."mini_program_id" = __mini_programs__."id")
	order by __mini_program_versions__."major" desc, __mini_program_versions__."minor" desc, __mini_program_versions__."patch" desc, __mini_program_versions__."id" desc
	limit 5)::text as "5"
	from "public"."mini_programs" as __mini_programs__
	where (__mini_programs__."workspace_id" = :ws::"text")
	order by __mini_programs__."search_name" asc, __mini_programs__."id" asc
	limit 20;
