//! A meaningful part of the suite again, with every server on a fresh PostgreSQL database of its
//! own: the same test bodies (see `on_postgres`), so that both backends keep the same behaviour.
//! These tests fail, saying what is missing, when PostgreSQL is not there.

use crate::common::on_postgres;

/// `module { test, ... }`: a `#[test]` of the same name running `crate::module::test` on
/// PostgreSQL.
macro_rules! on_postgres {
    ($($module:ident { $($test:ident),* $(,)? })*) => {
        $(mod $module {
            $(#[test]
            fn $test() {
                super::on_postgres(crate::$module::$test);
            })*
        })*
    };
}

on_postgres! {
    check {
        faults_in_a_local_store_are_found_and_repaired,
        faults_in_an_s3_bucket_are_found_and_repaired,
    }
    check_live {
        work_in_flight_on_a_local_store_is_untouched,
        work_in_flight_on_s3_is_untouched,
        a_store_under_strain_loses_nothing_and_a_sweep_leaves_nothing_open,
    }
    upload {
        upload_from_path_through_the_generated_client,
        upload_a_multipart_body_made_like_curl,
        upload_checks_come_in_the_reference_order,
        unknown_form_field_after_the_bits_is_422,
        second_upload_is_422_and_keeps_the_first_bits,
        failed_droplet_takes_no_second_upload,
    }
    invalid_bits {
        random_bytes_fail_the_job,
        truncated_tarball_fails_the_job,
    }
    download {
        download_streams_the_whole_droplet_with_its_headers,
        download_answers_a_range_with_206_and_that_slice,
        download_of_a_droplet_without_bits_is_422,
        download_to_file_verifies_the_sha256,
    }
    droplets {
        create_answers_201_with_the_reference_shape,
        create_keeps_the_given_process_types,
        links_follow_the_state,
    }
    listing {
        pages_carry_exact_totals_and_links,
        order_by_both_directions,
        filters_combine,
        label_selectors,
        bad_parameters_are_400_naming_them,
    }
    download_semantics {
        download_has_the_http_semantics_of_a_file_server,
    }
    metrics {
        metrics_count_exactly_a_known_workload,
    }
    app_droplets {
        an_apps_droplets_are_listed_filtered_and_paged,
    }
    redaction {
        secrets_are_redacted_in_lists_and_for_readers,
    }
    limits {
        uploads_past_the_concurrency_limit_are_503_with_retry_after,
    }
    stalls {
        a_stalled_upload_is_cut_and_frees_its_droplet,
        a_second_upload_while_one_streams_is_told_it_is_in_progress,
    }
    patch_races {
        concurrent_patches_of_distinct_keys_all_survive,
        a_patch_racing_a_delete_is_404_or_kept_and_never_brings_it_back,
    }
    metadata {
        patch_adds_changes_and_deletes_keys,
        rule_violations_are_422_and_change_nothing,
        create_takes_metadata_and_checks_process_types,
    }
    delete {
        delete_removes_the_droplet_and_its_blob,
        delete_of_a_droplet_awaiting_upload,
        delete_during_the_upload_job_leaves_no_blob,
        server_killed_after_the_delete_finishes_the_job_on_restart,
    }
    copy {
        copy_takes_the_source_bits_and_checksum,
        copy_of_a_droplet_that_is_not_staged_is_422,
        server_killed_during_a_copy_is_consistent_after_restart,
    }
    jobs {
        job_has_the_reference_shape,
        failed_job_lists_its_error,
    }
    recovery {
        upload_dropped_by_the_client_leaves_the_droplet_awaiting_upload,
        server_killed_while_the_job_runs_is_consistent_after_restart,
        droplets_and_jobs_survive_a_restart,
    }
    race {
        concurrent_uploads_to_one_droplet_have_exactly_one_winner,
    }
    resources {
        matching_resources_stage_the_droplet,
        resource_with_another_sha1_fails_the_droplet,
    }
}
