-- The metrics of each PR in scope: one row per PR, the columns of table pr_metrics (definitions:
-- docs/metrics.md), plus the facts and instants (i_*) they are computed from. Needs the rules and
-- the working-hours clock (fetcher.compute.metrics.metrics_scope). Raw rows keep bots; metrics leave them out.
WITH human AS (FROM human_reviews()),
fix AS (FROM fix_commits()),
first_reviews AS (
    SELECT repo, pr_number, min(submitted_at) AS first_review_at, max(submitted_at) AS last_review_at,
           max(submitted_at) FILTER (WHERE state = 'APPROVED') AS last_approval_at
    FROM human GROUP BY ALL
),
first_responses AS (  -- a human review, or a comment answering the PR
    SELECT repo, pr_number, min(responded_at) AS first_response_at FROM (
        SELECT repo, pr_number, submitted_at AS responded_at FROM human
        UNION ALL
        SELECT m.repo, m.pr_number, m.created_at
        FROM pr_comments m JOIN scoped_prs() p ON m.repo = p.repo AND m.pr_number = p.number
        WHERE is_responding_comment(m.author_login, m.author_type, m.created_at, p.author_login, p.merged_at)
    ) GROUP BY ALL
),
round_facts AS (  -- change requests answered by a later commit, and how long the answers took
    SELECT repo, pr_number, count(*) AS review_rounds,
           avg(hours_between(submitted_at, fix_at)) AS avg_fix_response_hours,
           avg(work_hours_between(submitted_at, fix_at)) AS avg_fix_response_work_hours
    FROM review_rounds() GROUP BY ALL
),
first_commits AS (
    SELECT repo, pr_number, min(authored_at) AS first_authored_at FROM fix GROUP BY ALL
),
late_commits AS (
    SELECT c.repo, c.pr_number, count(*) AS commits_after_first_review
    FROM fix c JOIN first_reviews fr ON c.repo = fr.repo AND c.pr_number = fr.pr_number
    WHERE c.committed_at > fr.first_review_at
    GROUP BY ALL
),
comment_facts AS (
    SELECT m.repo, m.pr_number,
           count(*) FILTER (WHERE m.comment_type = 'issue') AS human_issue_comments,
           count(*) FILTER (WHERE m.comment_type = 'review') AS human_review_comments
    FROM pr_comments m JOIN scoped_prs() p ON m.repo = p.repo AND m.pr_number = p.number
    WHERE NOT is_bot(m.author_login, m.author_type)
    GROUP BY ALL
),
review_body_facts AS (
    SELECT r.repo, r.pr_number, count(*) AS human_review_bodies
    FROM pr_reviews r JOIN scoped_prs() p ON r.repo = p.repo AND r.pr_number = p.number
    WHERE is_counted_review_body(r.reviewer_login, r.reviewer_type, r.body)
    GROUP BY ALL
),
event_facts AS (
    SELECT e.repo, e.pr_number,
           count(*) FILTER (WHERE e.event = 'head_ref_force_pushed') AS force_pushes,
           max(e.created_at) FILTER (
               WHERE e.event = 'ready_for_review'
                 AND e.created_at < coalesce(fr.first_review_at, p.merged_at, 'infinity'::TIMESTAMPTZ)
           ) AS last_ready_for_review_at
    FROM pr_events e
    JOIN scoped_prs() p ON e.repo = p.repo AND e.pr_number = p.number
    LEFT JOIN first_reviews fr ON e.repo = fr.repo AND e.pr_number = fr.pr_number
    GROUP BY ALL
),
facts AS (
    SELECT p.repo, p.number, p.created_at, p.merged_at, fr.first_review_at, fo.first_response_at,
           fr.last_review_at, fr.last_approval_at, fc.first_authored_at,
           coalesce(rf.review_rounds, 0) AS review_rounds, rf.avg_fix_response_hours, rf.avg_fix_response_work_hours,
           coalesce(lc.commits_after_first_review, 0) AS commits_after_first_review,
           coalesce(cf.human_issue_comments, 0) AS human_issue_comments,
           coalesce(cf.human_review_comments, 0) AS human_review_comments,
           coalesce(rb.human_review_bodies, 0) AS human_review_bodies,
           coalesce(ef.force_pushes, 0) AS force_pushes, ef.last_ready_for_review_at
    FROM scoped_prs() p
    LEFT JOIN first_reviews fr ON fr.repo = p.repo AND fr.pr_number = p.number
    LEFT JOIN first_responses fo ON fo.repo = p.repo AND fo.pr_number = p.number
    LEFT JOIN round_facts rf ON rf.repo = p.repo AND rf.pr_number = p.number
    LEFT JOIN late_commits lc ON lc.repo = p.repo AND lc.pr_number = p.number
    LEFT JOIN comment_facts cf ON cf.repo = p.repo AND cf.pr_number = p.number
    LEFT JOIN review_body_facts rb ON rb.repo = p.repo AND rb.pr_number = p.number
    LEFT JOIN event_facts ef ON ef.repo = p.repo AND ef.pr_number = p.number
    LEFT JOIN first_commits fc ON fc.repo = p.repo AND fc.pr_number = p.number
),
-- The instants durations run between (each may read the ones before it). The stage boundaries are
-- clamped in order into [created_at, merged_at], so the four stages add up to the cycle time
-- (docs/metrics.md, "Stages").
instants AS (
    SELECT f.*,
           f.created_at AS i_created,
           f.merged_at AS i_merged,
           f.first_review_at AS i_first_review,
           f.first_response_at AS i_first_response,
           coalesce(f.last_ready_for_review_at, f.created_at) AS i_ready,
           clamp(i_ready, i_created, i_merged) AS i_draft_end,
           -- the first response by a person (a review is one); nobody before the merge: pickup runs to it
           clamp(coalesce(least(f.first_review_at, f.first_response_at), f.merged_at), i_draft_end, i_merged)
               AS i_pickup_end,
           -- the last approval, else the last review; no review: the review stage is empty
           clamp(coalesce(f.last_approval_at, f.last_review_at), i_pickup_end, i_merged) AS i_review_end,
           -- the first commit authored; one authored after the PR was opened gives 0, no commit NULL
           CASE WHEN f.first_authored_at IS NOT NULL THEN least(f.first_authored_at, f.created_at) END
               AS i_coding_start
    FROM facts f
),
clocked AS (  -- the working-hours clock at each instant a working-hours twin reads
    SELECT f.*,
           work_seconds_at(f.i_created) AS work_created, work_seconds_at(f.i_merged) AS work_merged,
           work_seconds_at(f.i_first_review) AS work_first_review,
           work_seconds_at(f.i_first_response) AS work_first_response,
           work_seconds_at(f.i_ready) AS work_ready, work_seconds_at(f.i_draft_end) AS work_draft_end,
           work_seconds_at(f.i_pickup_end) AS work_pickup_end, work_seconds_at(f.i_review_end) AS work_review_end,
           work_seconds_at(f.i_coding_start) AS work_coding_start
    FROM instants f
)
SELECT f.*,
       f.human_issue_comments + f.human_review_comments + f.human_review_bodies AS total_comments,
       f.i_ready AS ready_for_review_at,
       hours_between(f.i_created, f.i_merged) AS cycle_time_hours,
       hours_between(f.i_created, f.i_first_review) AS time_to_first_review_hours,
       hours_between(f.i_created, f.i_first_response) AS time_to_first_response_hours,
       hours_between(f.i_ready, f.i_first_review) AS pickup_hours,
       hours_between(f.i_created, f.i_draft_end) AS stage_draft_hours,
       hours_between(f.i_draft_end, f.i_pickup_end) AS stage_pickup_hours,
       hours_between(f.i_pickup_end, f.i_review_end) AS stage_review_hours,
       hours_between(f.i_review_end, f.i_merged) AS stage_merge_hours,
       hours_between(f.i_coding_start, f.i_created) AS coding_hours,
       CASE WHEN f.first_authored_at IS NOT NULL THEN f.force_pushes = 0 END AS coding_reliable,
       -- each duration's working-hours twin: the working time between the same two instants
       (f.work_merged - f.work_created) / 3600.0 AS cycle_time_work_hours,
       (f.work_first_review - f.work_created) / 3600.0 AS time_to_first_review_work_hours,
       (f.work_first_response - f.work_created) / 3600.0 AS time_to_first_response_work_hours,
       (f.work_first_review - f.work_ready) / 3600.0 AS pickup_work_hours,
       (f.work_draft_end - f.work_created) / 3600.0 AS stage_draft_work_hours,
       (f.work_pickup_end - f.work_draft_end) / 3600.0 AS stage_pickup_work_hours,
       (f.work_review_end - f.work_pickup_end) / 3600.0 AS stage_review_work_hours,
       (f.work_merged - f.work_review_end) / 3600.0 AS stage_merge_work_hours,
       (f.work_created - f.work_coding_start) / 3600.0 AS coding_work_hours
FROM clocked f
