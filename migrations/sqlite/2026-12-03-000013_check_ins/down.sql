DROP TABLE check_in_hours;
