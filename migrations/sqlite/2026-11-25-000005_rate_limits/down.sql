DROP TABLE mutation_rate_windows;
