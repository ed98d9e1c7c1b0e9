/* SPDX-License-Identifier: MIT */
/* roostd migrate (migrate.c): moves the store from SQLite into PostgreSQL. */
#ifndef ROOSTD_MIGRATE_H
#define ROOSTD_MIGRATE_H

/* argv[0] is "migrate"; returns the exit status. */
int migrate_main(int argc, char **argv);

#endif
