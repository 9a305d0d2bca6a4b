-- Each review request and how it ended (table pr_review_requests; docs/metrics.md, "Reviewer
-- response"). The PRs in scope, as pr_metrics.sql's.
--
-- - A request is a `review_requested` item for a person who is no bot (Copilot is asked as
--   `Copilot`, type Bot, and reviews as another login: it would never answer), or for a team.
--   A team request stored before schema version 4 names no team and is left out. A request at or
--   after the merge is left out.
-- - It ends at the first of: an answer (a human review: "reviewed"; a responding comment, issue or
--   diff: "commented") by the person asked, or for a team by anyone (a human, not the author, as
--   everywhere); a `review_request_removed` item for the same person or team ("removed"); the
--   merge ("merged"). Else it is "open". Ties in the same second: reviewed, commented, removed, merged.
-- - A request repeated while the same reviewer's earlier request is still pending is no new
--   request; a re-request after an answer (GitHub's "re-request review") is.
WITH requests AS (
    SELECT e.repo, e.pr_number, e.seq, e.created_at AS requested_at, e.actor_login AS requested_by_login,
           e.requested_reviewer_login AS reviewer_login,
           coalesce(e.requested_reviewer_deleted, false) AS reviewer_deleted, e.requested_team_slug AS team_slug
    FROM pr_events e JOIN scoped_prs() p ON e.repo = p.repo AND e.pr_number = p.number
    WHERE e.event = 'review_requested' AND e.created_at IS NOT NULL AND before_merge(e.created_at, p.merged_at)
      AND (e.requested_team_slug IS NOT NULL
           OR ((e.requested_reviewer_login IS NOT NULL OR e.requested_reviewer_deleted)
               AND NOT is_bot(e.requested_reviewer_login, e.requested_reviewer_type)))
),
answers AS (  -- reviewer activity before the merge: human reviews, responding comments
    SELECT r.repo, r.pr_number, r.reviewer_login AS login, r.submitted_at AS happened_at,
           'reviewed' AS outcome, 1 AS rank
    FROM human_reviews() r
    UNION ALL
    SELECT m.repo, m.pr_number, m.author_login, m.created_at, 'commented', 2
    FROM pr_comments m JOIN scoped_prs() p ON m.repo = p.repo AND m.pr_number = p.number
    WHERE is_responding_comment(m.author_login, m.author_type, m.created_at, p.author_login, p.merged_at)
),
removals AS (
    SELECT e.repo, e.pr_number, e.created_at AS happened_at, e.requested_reviewer_login AS login,
           coalesce(e.requested_reviewer_deleted, false) AS deleted, e.requested_team_slug AS team_slug
    FROM pr_events e JOIN scoped_prs() p ON e.repo = p.repo AND e.pr_number = p.number
    WHERE e.event = 'review_request_removed' AND e.created_at IS NOT NULL
),
ends AS (
    SELECT q.repo, q.pr_number, q.seq, a.happened_at, a.outcome, a.rank, a.login AS answered_by_login
    FROM requests q JOIN answers a ON a.repo = q.repo AND a.pr_number = q.pr_number AND a.happened_at >= q.requested_at
     -- a deleted account (NULL login) answers a request to a deleted account, as metrics compare them
     AND (q.team_slug IS NOT NULL OR a.login IS NOT DISTINCT FROM q.reviewer_login)
    UNION ALL
    SELECT q.repo, q.pr_number, q.seq, x.happened_at, 'removed', 3, NULL
    FROM requests q JOIN removals x ON x.repo = q.repo AND x.pr_number = q.pr_number AND x.happened_at >= q.requested_at
     AND (x.team_slug = q.team_slug
          OR (q.team_slug IS NULL AND x.team_slug IS NULL AND x.login IS NOT DISTINCT FROM q.reviewer_login
              AND x.deleted = q.reviewer_deleted))
    UNION ALL
    SELECT q.repo, q.pr_number, q.seq, p.merged_at, 'merged', 4, NULL
    FROM requests q JOIN scoped_prs() p ON p.repo = q.repo AND p.number = q.pr_number WHERE p.merged_at IS NOT NULL
),
first_ends AS (
    SELECT repo, pr_number, seq, happened_at AS ended_at, outcome, answered_by_login FROM ends
    QUALIFY row_number() OVER (PARTITION BY repo, pr_number, seq ORDER BY happened_at, rank) = 1
),
ended AS (
    SELECT q.*, fe.ended_at, coalesce(fe.outcome, 'open') AS outcome, fe.answered_by_login
    FROM requests q LEFT JOIN first_ends fe ON fe.repo = q.repo AND fe.pr_number = q.pr_number AND fe.seq = q.seq
)
SELECT k.repo, k.pr_number, k.seq, k.requested_at, k.requested_by_login, k.reviewer_login, k.reviewer_deleted,
       k.team_slug, k.ended_at, k.outcome, k.answered_by_login,
       CASE WHEN k.outcome IN ('reviewed', 'commented') THEN hours_between(k.requested_at, k.ended_at) END
           AS response_hours,
       CASE WHEN k.outcome IN ('reviewed', 'commented')
            THEN work_hours_between(k.requested_at, k.ended_at) END AS response_work_hours
FROM ended k
WHERE NOT EXISTS (  -- the same reviewer's earlier request, still pending: this one repeats it
    SELECT 1 FROM ended j
    WHERE j.repo = k.repo AND j.pr_number = k.pr_number AND (j.requested_at, j.seq) < (k.requested_at, k.seq)
      AND coalesce(j.ended_at, 'infinity'::TIMESTAMPTZ) > k.requested_at
      AND j.team_slug IS NOT DISTINCT FROM k.team_slug AND j.reviewer_login IS NOT DISTINCT FROM k.reviewer_login
      AND j.reviewer_deleted = k.reviewer_deleted
)
