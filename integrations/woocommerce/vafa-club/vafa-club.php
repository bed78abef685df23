<?php
/**
 * Plugin Name:       Vafa Club
 * Plugin URI:        https://github.com/vafa-club/vafa
 * Description:       The Vafa customer club on your store: the club widget on every page, a points section in My Account and the member's points at checkout.
 * Version:           0.1.0
 * Requires at least: 6.0
 * Requires PHP:      8.1
 * Author:            Vafa
 * License:           GPL-2.0-or-later
 * Text Domain:       vafa-club
 * WC requires at least: 7.0
 *
 * The plugin holds no points itself: the widget reads them from Vafa, authenticated by a
 * short-lived token this plugin signs for the logged-in customer with the shop's storefront
 * secret (HS256, claims sub/iat/exp, at most 15 minutes; Vafa's DESIGN.md "Storefront").
 */

declare(strict_types=1);

if (!defined('ABSPATH')) {
    exit; // Loaded by WordPress only.
}

define('VAFA_CLUB_VERSION', '0.1.0');

require_once __DIR__ . '/includes/class-vafa-token.php';
require_once __DIR__ . '/includes/class-vafa-settings.php';
require_once __DIR__ . '/includes/class-vafa-widget.php';

add_action('plugins_loaded', static function (): void {
    $settings = new Vafa_Settings();
    $settings->register();
    (new Vafa_Widget($settings))->register();
});

register_activation_hook(__FILE__, static function (): void {
    Vafa_Widget::add_account_endpoint();
    flush_rewrite_rules();
});

register_deactivation_hook(__FILE__, static function (): void {
    flush_rewrite_rules();
});
