<?php
/** Removing the plugin removes its settings; the club's data lives in Vafa. */

declare(strict_types=1);

if (!defined('WP_UNINSTALL_PLUGIN')) {
    exit;
}
delete_option('vafa_club_settings');
