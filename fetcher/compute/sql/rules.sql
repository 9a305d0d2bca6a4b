-- The rules every metric and every dashboard figure share (docs/metrics.md), each written once.
--
-- TEMP macros: created on the connection that reads them (fetcher.compute.rules.use_rules; the
-- dashboard's read-only connections too), never stored in a DB file. To try a query by hand:
--     duckdb -readonly mergelens.duckdb -c ".read fetcher/compute/sql/rules.sql" -c "SELECT ..."
-- Working hours (work_seconds_at, work_hours_between) need the clock too: fetcher.compute.work_calendar.

-- A deleted GitHub account is stored as a NULL login; GitHub shows it as "ghost".
CREATE OR REPLACE TEMP MACRO login_or_ghost(account_login) AS coalesce(account_login, 'ghost');

-- The account is a bot: type "Bot", a login ending in "[bot]", or a login in the stored list of
-- extra bots (table bot_logins: bots GitHub types as users, e.g. golangcibot). A deleted account
-- (NULL login and type) is counted as a person.
CREATE OR REPLACE TEMP MACRO is_bot(account_login, account_type) AS
    (coalesce(account_type = 'Bot', false) OR coalesce(account_login LIKE '%[bot]', false)
     OR coalesce(lower(account_login) IN (SELECT b.login FROM bot_logins b), false));

-- The hours from start_at to end_at (NULL when either is NULL).
CREATE OR REPLACE TEMP MACRO hours_between(start_at, end_at) AS ((epoch(end_at) - epoch(start_at)) / 3600.0);

-- value moved into [low, high]; a NULL value is low; NULL when high is (least/greatest skip NULLs).
CREATE OR REPLACE TEMP MACRO clamp(value, low, high) AS
    (CASE WHEN high IS NULL THEN NULL ELSE least(greatest(value, low), high) END);

-- happened_at is before the merge (an unmerged PR: any time). Review activity after the merge (a
-- review years later) says nothing about how the PR was reviewed.
CREATE OR REPLACE TEMP MACRO before_merge(happened_at, merged_at) AS
    (happened_at < coalesce(merged_at, 'infinity'::TIMESTAMPTZ));

-- A PENDING review (a draft only its author sees) has no submitted_at.
CREATE OR REPLACE TEMP MACRO review_pending(state, submitted_at) AS (state = 'PENDING' OR submitted_at IS NULL);

-- A deleted account (NULL login) is the author of a PR by a deleted account.
CREATE OR REPLACE TEMP MACRO by_pr_author(account_login, pr_author_login) AS
    (account_login IS NOT DISTINCT FROM pr_author_login);

-- A review that counts as reviewer activity: submitted, not by a bot, not by the PR author, before
-- the merge. Its arguments: the pr_reviews row's state, submitted_at, reviewer_login, reviewer_type,
-- and its PR's author_login and merged_at. review_excluded_because says which rule left one out.
CREATE OR REPLACE TEMP MACRO is_human_review(state, submitted_at, reviewer_login, reviewer_type, pr_author_login,
                                             merged_at) AS
    (NOT review_pending(state, submitted_at) AND NOT is_bot(reviewer_login, reviewer_type)
     AND NOT by_pr_author(reviewer_login, pr_author_login) AND before_merge(submitted_at, merged_at));
CREATE OR REPLACE TEMP MACRO review_excluded_because(state, submitted_at, reviewer_login, reviewer_type,
                                                     pr_author_login, merged_at) AS
    CASE WHEN review_pending(state, submitted_at) THEN 'pending'
         WHEN is_bot(reviewer_login, reviewer_type) THEN 'a bot'
         WHEN by_pr_author(reviewer_login, pr_author_login) THEN 'the author'
         WHEN NOT before_merge(submitted_at, merged_at) THEN 'after the merge' END;

-- A comment (pr_comments: issue or review comment) that answers the PR (first response): by a
-- non-bot other than the PR author, before the merge. comment_excluded_because: which rule left one out.
CREATE OR REPLACE TEMP MACRO is_responding_comment(author_login, author_type, created_at, pr_author_login,
                                                   merged_at) AS
    (NOT is_bot(author_login, author_type) AND NOT by_pr_author(author_login, pr_author_login)
     AND before_merge(created_at, merged_at));
CREATE OR REPLACE TEMP MACRO comment_excluded_because(author_login, author_type, created_at, pr_author_login,
                                                      merged_at) AS
    CASE WHEN is_bot(author_login, author_type) THEN 'a bot'
         WHEN by_pr_author(author_login, pr_author_login) THEN 'the author'
         WHEN NOT before_merge(created_at, merged_at) THEN 'after the merge' END;

-- A review whose body counts as a comment (total_comments): not by a bot, and the body is not blank.
CREATE OR REPLACE TEMP MACRO is_counted_review_body(reviewer_login, reviewer_type, body) AS
    (NOT is_bot(reviewer_login, reviewer_type) AND trim(coalesce(body, '')) <> '');

-- A pr_commits row with two or more parents is a merge commit (the base branch merged into the PR's
-- branch), never a fix. NULL parents (not fetched: GraphQL backfill) count as one.
CREATE OR REPLACE TEMP MACRO is_merge_commit(parents) AS coalesce(len(parents) > 1, false);

-- A check run's conclusion that counts as a failure (CI page, whose move).
CREATE OR REPLACE TEMP MACRO is_failed_check(conclusion) AS
    (conclusion IN ('failure', 'timed_out', 'startup_failure', 'action_required'));

-- The working seconds before instant since the clock's first day; NULL when instant is. The clock
-- (variable work_clock: first_day, last_day and days, one struct per local day; variable work_tz: the
-- calendar's zone) is set by fetcher.compute.work_calendar.build_clock. The instant's local day (kept
-- to the clock's range) picks the day in the list; the part of that day's hours already gone is added.
CREATE OR REPLACE TEMP MACRO work_clock_day(instant) AS
    getvariable('work_clock').days[
        (least(greatest(timezone(getvariable('work_tz'), instant)::DATE, getvariable('work_clock').first_day),
               getvariable('work_clock').last_day) - getvariable('work_clock').first_day) + 1];
CREATE OR REPLACE TEMP MACRO work_seconds_at(instant) AS
    (CASE WHEN instant IS NULL THEN NULL
          ELSE work_clock_day(instant).before_s
               + least(greatest(epoch(instant) - epoch(work_clock_day(instant).start_at), 0),
                       work_clock_day(instant).seconds) END);

-- The working hours from start_at to end_at: the working-hours twin of hours_between.
CREATE OR REPLACE TEMP MACRO work_hours_between(start_at, end_at) AS
    ((work_seconds_at(end_at) - work_seconds_at(start_at)) / 3600.0);

-- ---------------------------------------------------------------------------------------------
-- The rows the metrics read, as table macros. They read the PRs in scope: the variables
-- metrics_repo (one repository) and metrics_numbers (an INTEGER[] of its PR numbers); unset, every
-- PR (fetcher.compute.metrics.metrics_scope sets them). Every child table is joined through that
-- scope, so the work done is proportional to the PRs recomputed.

CREATE OR REPLACE TEMP MACRO in_metrics_scope(pr_repo, pr_number) AS
    ((getvariable('metrics_repo') IS NULL OR pr_repo = getvariable('metrics_repo'))
     AND (getvariable('metrics_numbers') IS NULL OR list_contains(getvariable('metrics_numbers'), pr_number)));
CREATE OR REPLACE TEMP MACRO scoped_prs() AS TABLE
    SELECT repo, number, author_login, created_at, merged_at FROM pull_requests
    WHERE in_metrics_scope(repo, number);

-- Reviewer activity: the human reviews of the PRs in scope.
CREATE OR REPLACE TEMP MACRO human_reviews() AS TABLE
    SELECT r.repo, r.pr_number, r.id, r.reviewer_login, r.state, r.submitted_at
    FROM pr_reviews r JOIN scoped_prs() p ON r.repo = p.repo AND r.pr_number = p.number
    WHERE is_human_review(r.state, r.submitted_at, r.reviewer_login, r.reviewer_type, p.author_login, p.merged_at);

-- Commits that can answer a review: merge commits are not fixes.
CREATE OR REPLACE TEMP MACRO fix_commits() AS TABLE
    SELECT c.repo, c.pr_number, c.sha, c.committed_at, c.authored_at
    FROM pr_commits c JOIN scoped_prs() p ON c.repo = p.repo AND c.pr_number = p.number
    WHERE NOT is_merge_commit(c.parents);

-- The review rounds (docs/metrics.md, review_rounds), one row each: a change request among the human
-- reviews followed by a later fix commit. reviewers: who asked, comma-separated (change requests of
-- the same second are one round); fix_at: the first such commit.
CREATE OR REPLACE TEMP MACRO review_rounds() AS TABLE
    SELECT r.repo, r.pr_number, r.submitted_at,
           string_agg(DISTINCT login_or_ghost(r.reviewer_login), ', ') AS reviewers,
           min(c.committed_at) AS fix_at
    FROM human_reviews() r JOIN fix_commits() c
      ON c.repo = r.repo AND c.pr_number = r.pr_number AND c.committed_at > r.submitted_at
    WHERE r.state = 'CHANGES_REQUESTED'
    GROUP BY r.repo, r.pr_number, r.submitted_at;

-- Last: the mark that this file ran on the connection (fetcher.compute.rules.use_rules).
CREATE OR REPLACE TEMP TABLE mergelens_rules AS SELECT 1 AS created;
